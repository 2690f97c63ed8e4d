"""The H2O runtime against H2O itself: MOJOs trained and exported by a local H2O in the h2o
peer environment, scored here by genmodel in the service's JVM, answer exactly what H2O's own
``predict`` answered for the same rows (missing values and unseen categories among them):
labels equal, probabilities and values within 1e-6 (measured: equal, or 1e-15 apart)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import ModelLoadError
from service.inputs.conversion import typed_batch
from service.runtimes.base import BatchResult
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.runtimes.checks import row_problems
from service.runtimes.h2o_genmodel import SCORER_CLASSES
from service.runtimes.h2o_mojo import H2oMojoModel
from tests.peers.h2o_models import H2oModels

TOLERANCE = 1e-6


def scored(models: H2oModels, name: str) -> tuple[H2oMojoModel, BatchResult]:
    request = LoadRequest(models.mojo(name), options=LoadOptions(h2o_genmodel_jar=str(models.jar)))
    model = RUNTIMES.get("H2O").load(request)
    assert isinstance(model, H2oMojoModel)
    return model, model.predict(typed_batch(model.input_schema, models.rows))


def test_the_binomial_gbm_answers_h2os_labels_and_probabilities(h2o_models: H2oModels) -> None:
    model, result = scored(h2o_models, "gbm_binomial")
    expected = h2o_models.answers("gbm_binomial")
    assert model.runtime.engine == "h2o-genmodel"
    assert list(result.classes or ()) == expected["classes"] == ["no", "yes"]
    assert result.labels == expected["predict"]
    probabilities = np.asarray(result.probabilities)
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=0, atol=TOLERANCE)
    assert row_problems(result) == {}
    model.close()


def test_a_binomial_label_is_the_mojos_threshold_not_the_argmax(h2o_models: H2oModels) -> None:
    model, result = scored(h2o_models, "gbm_binomial")
    expected = h2o_models.answers("gbm_binomial")
    threshold = expected["threshold"]
    assert threshold != pytest.approx(0.5)
    probabilities = np.asarray(result.probabilities)
    argmax = [["no", "yes"][int(i)] for i in np.argmax(probabilities, axis=1)]
    differ = [i for i, (a, b) in enumerate(zip(result.labels or (), argmax, strict=True)) if a != b]
    # The data put some rows between the F1 threshold and 0.5: their label is H2O's "yes".
    assert differ, "no row between the threshold and 0.5: the test proves nothing"
    for i in differ:
        assert threshold <= probabilities[i, 1] < 0.5
        assert (result.labels or [])[i] == expected["predict"][i] == "yes"
    model.close()


def test_the_multinomial_glm_with_categorical_inputs(h2o_models: H2oModels) -> None:
    model, result = scored(h2o_models, "glm_multinomial")
    expected = h2o_models.answers("glm_multinomial")
    assert list(result.classes or ()) == expected["classes"] == ["a", "b", "c"]
    assert result.labels == expected["predict"]
    np.testing.assert_allclose(
        np.asarray(result.probabilities), expected["probabilities"], rtol=0, atol=TOLERANCE
    )
    assert row_problems(result) == {}
    model.close()


def test_the_regression_answers_h2os_values(h2o_models: H2oModels) -> None:
    model, result = scored(h2o_models, "gbm_regression")
    assert result.kind == "regressor"
    expected = h2o_models.answers("gbm_regression")["predict"]
    np.testing.assert_allclose(np.asarray(result.values), expected, rtol=0, atol=TOLERANCE)
    assert row_problems(result) == {}
    model.close()


def test_the_schema_is_the_mojos_columns_without_the_response(h2o_models: H2oModels) -> None:
    model, _ = scored(h2o_models, "gbm_binomial")
    types = {spec.name: spec.type for spec in model.input_schema.inputs}
    assert types == {"x1": "double", "x2": "double", "color": "string", "size": "string"}
    color = next(s for s in model.input_schema.inputs if s.name == "color")
    assert set(color.categories) == {"red", "green", "blue"}
    assert all(spec.nullable for spec in model.input_schema.inputs)
    model.close()


def test_missing_values_and_unseen_categories_are_missing_to_h2o(h2o_models: H2oModels) -> None:
    rows = h2o_models.rows
    special = [
        i
        for i, r in enumerate(rows)
        if r["x1"] is None or r["color"] in (None, "purple") or r["size"] == "XXL"
    ]
    assert len(special) > 50  # the test frame is built to have them
    unseen = sum(r["color"] == "purple" for r in rows) + sum(r["size"] == "XXL" for r in rows)
    for name in ("gbm_binomial", "glm_multinomial", "gbm_regression"):
        model, result = scored(h2o_models, name)
        expected = h2o_models.answers(name)
        if result.kind == "classifier":
            assert [(result.labels or [])[i] for i in special] == [
                expected["predict"][i] for i in special
            ]
        # An unseen value answers as that row with the value missing (H2O's own rule).
        assert model.unseen_categories == unseen
        assert row_problems(result) == {}
        model.close()


def test_an_unseen_category_scores_as_a_missing_one(h2o_models: H2oModels) -> None:
    model, _ = scored(h2o_models, "gbm_binomial")
    row: dict[str, Any] = {"x1": 0.3, "x2": -0.1, "color": "purple", "size": "M"}
    unseen = model.predict(typed_batch(model.input_schema, [row, {**row, "color": None}]))
    assert unseen.labels is not None and unseen.labels[0] == unseen.labels[1]
    assert (
        np.asarray(unseen.probabilities)[0].tolist() == np.asarray(unseen.probabilities)[1].tolist()
    )
    model.close()


def test_descriptor_labels_rename_the_classes(h2o_models: H2oModels) -> None:
    request = LoadRequest(
        h2o_models.mojo("gbm_binomial"),
        labels=["stays", "buys"],
        options=LoadOptions(h2o_genmodel_jar=str(h2o_models.jar)),
    )
    model = RUNTIMES.get("H2O").load(request)
    result = model.predict(typed_batch(model.input_schema, h2o_models.rows))
    renamed = {"no": "stays", "yes": "buys"}
    assert result.labels == [renamed[v] for v in h2o_models.answers("gbm_binomial")["predict"]]
    assert row_problems(result) == {}
    model.close()


def _load(artifact: bytes, jar: Path | None) -> H2oMojoModel:
    return H2oMojoModel(artifact, jar=None if jar is None else str(jar))


def test_a_clustering_mojo_is_refused_by_name(h2o_models: H2oModels) -> None:
    with pytest.raises(ModelLoadError, match="Clustering"):
        _load(h2o_models.mojo("kmeans"), h2o_models.jar)


def test_a_zip_that_is_not_a_mojo_is_refused(h2o_models: H2oModels) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("saved_model.pb", b"\x00")
    with pytest.raises(ModelLoadError, match=r"model\.ini"):
        _load(buffer.getvalue(), h2o_models.jar)


def test_a_broken_mojo_is_refused(h2o_models: H2oModels) -> None:
    source = zipfile.ZipFile(io.BytesIO(h2o_models.mojo("gbm_binomial")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # its ini, without its trees and domains
        archive.writestr("model.ini", source.read("model.ini"))
    with pytest.raises(ModelLoadError, match="genmodel cannot load"):
        _load(buffer.getvalue(), h2o_models.jar)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=2048) | st.binary(max_size=512).map(lambda b: b"PK\x03\x04" + b))
def test_arbitrary_bytes_only_ever_fail_to_load(h2o_models: H2oModels, artifact: bytes) -> None:
    with pytest.raises(ModelLoadError):
        _load(artifact, h2o_models.jar)


def test_without_a_genmodel_jar_the_load_says_what_to_set(
    h2o_models: H2oModels, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import service.runtimes.h2o_genmodel as genmodel

    monkeypatch.setattr(genmodel, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match=r"MODELSERVE_H2O_GENMODEL_JAR.*modelserve\[h2o\]"):
        _load(h2o_models.mojo("gbm_binomial"), None)
    with pytest.raises(ModelLoadError, match="no such file"):
        _load(h2o_models.mojo("gbm_binomial"), tmp_path / "absent.jar")
    (tmp_path / "empty.jar").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="genmodel"):
        _load(h2o_models.mojo("gbm_binomial"), tmp_path / "empty.jar")


def test_the_shipped_scorer_classes_are_compiled_from_their_source(
    h2o_models: H2oModels, tmp_path: Path
) -> None:
    """`make h2o-scorer` after changing BatchScorer.java (javac's output is reproducible)."""
    if shutil.which("javac") is None:
        pytest.skip("no javac")
    source = SCORER_CLASSES / "modelserve" / "h2o" / "BatchScorer.java"
    subprocess.run(
        ["javac", "--release", "8", "-Xlint:-options", "-cp", str(h2o_models.jar),
         "-d", str(tmp_path), str(source)],
        check=True,
    )  # fmt: skip
    built = sorted((tmp_path / "modelserve" / "h2o").glob("*.class"))
    shipped = sorted(source.parent.glob("*.class"))
    assert [p.name for p in built] == [p.name for p in shipped]
    for fresh, ours in zip(built, shipped, strict=True):
        assert fresh.read_bytes() == ours.read_bytes(), f"{ours.name} is stale: make h2o-scorer"


ONE_JVM = """
import sys
import jpype
from service.inputs.conversion import typed_batch
from service.runtimes.h2o_mojo import H2oMojoModel
from service.runtimes.pmml import open_pmml

first, mojo, jar, pmml = sys.argv[1:]
def h2o():
    model = H2oMojoModel(open(mojo, "rb").read(), jar=jar)
    row = {"x1": 0.1, "x2": 0.2, "color": "red", "size": "M"}
    return model.predict(typed_batch(model.input_schema, [row])).labels[0]
def jpmml():
    model = open_pmml(open(pmml, "rb").read(), None, "jpmml")
    return model.predict(typed_batch(model.input_schema, [model.input_schema.example_row()])).size
answers = [h2o(), jpmml()] if first == "h2o" else [jpmml(), h2o()]
system = jpype.JClass("java.lang.System")
print(answers, repr(str(system.getProperty("javax.xml.accessExternalDTD"))))
"""


@pytest.mark.parametrize("first", ["h2o", "jpmml"])
def test_both_engines_share_one_hardened_jvm_whichever_starts_it(
    h2o_models: H2oModels, model_files: Any, first: str
) -> None:
    path = h2o_models.folder / "gbm_binomial.zip"
    args = [first, str(path), str(h2o_models.jar), str(model_files.regressor_pmml)]
    done = subprocess.run(
        [sys.executable, "-c", ONE_JVM, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    labels = "['no', 1]" if first == "h2o" else "[1, 'no']"
    assert done.stdout.strip() == f"{labels} ''"


def test_a_jar_of_just_the_genmodel_classes_scores_the_same(
    h2o_models: H2oModels, tmp_path: Path
) -> None:
    """peers/h2o/genmodel-jar: the 1.7 MB jar taken out of h2o.jar answers what h2o.jar does."""
    small = tmp_path / "h2o-genmodel.jar"
    script = Path(__file__).resolve().parents[2] / "peers" / "h2o" / "genmodel-jar"
    subprocess.run([str(script), str(h2o_models.jar), str(small)], check=True, capture_output=True)
    assert small.stat().st_size < 3_000_000
    for name in ("gbm_binomial", "glm_multinomial", "gbm_regression"):
        model = _load(h2o_models.mojo(name), small)
        result = model.predict(typed_batch(model.input_schema, h2o_models.rows))
        expected = h2o_models.answers(name)
        if result.kind == "classifier":
            assert result.labels == expected["predict"]
            np.testing.assert_allclose(
                np.asarray(result.probabilities), expected["probabilities"], atol=TOLERANCE
            )
        else:
            np.testing.assert_allclose(
                np.asarray(result.values), expected["predict"], atol=TOLERANCE
            )
        model.close()
