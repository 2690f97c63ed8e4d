"""TENSORFLOWSAVED models (SavedModels in an archive) against TensorFlow run directly: TF1's
(Lightbend's kind: signature ``predict``, reference variables), TF2's of several inputs and
Keras's; every archive form; the signature chosen; the answer of the one output or the one
``outputs`` names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.control.loader import warm_up
from service.errors import ModelLoadError
from service.inputs.conversion import typed_batch
from service.inputs.schema import InputSpec, TypedBatch
from service.runtimes.base import Model, tensor_inputs
from service.runtimes.catalog import RUNTIMES, LoadRequest
from service.runtimes.checks import row_problems
from service.wine import WINE_FIELDS, wine_arrays
from tests.runtimes.tensorflow_models import (
    TensorFlowModels,
    saved_answer,
    tar_of,
    tensorflow_or_skip,
    tf1_saved_model,
    zip_of,
)


def load(artifact: bytes, **descriptor: Any) -> Model:
    return RUNTIMES.get("TENSORFLOWSAVED").load(LoadRequest(artifact, **descriptor))


def wine_batch(model: Model) -> TypedBatch:
    return TypedBatch.of_matrix(model.input_schema, wine_arrays()[0].astype(np.float64))


def test_a_tf1_savedmodel_answers_tensorflows_highest_class_and_its_scores(
    tf_models: TensorFlowModels,
) -> None:
    tf = tensorflow_or_skip()
    folder = tf_models.tf1_saved["sigmoid"]  # wine_sigmoid/1/saved_model.pb
    model = load(tar_of(folder))
    assert str(model.runtime) == f"tensorflow {tf.__version__}"
    assert model.input_schema.names == list(WINE_FIELDS)
    (tensor,) = tensor_inputs(model)
    assert (tensor.name, tensor.shape, tensor.side_by_side) == ("inputs", (11,), True)
    assert warm_up(model).kind == "classifier"
    result = model.predict(wine_batch(model))
    direct = saved_answer(tf, folder / "1", "predict", inputs=wine_arrays()[0])["outputs"]
    assert list(result.labels or ()) == [str(i) for i in direct.argmax(axis=1)]
    assert result.scores is not None and result.probabilities is None
    np.testing.assert_allclose(result.scores, direct, atol=1e-6)
    assert row_problems(result) == {}
    model.close()


def archives(folder: Path) -> dict[str, bytes]:
    """One SavedModel (``folder``/1/saved_model.pb) in every form the runtime takes."""
    return {
        "tar.gz of the folder": tar_of(folder),
        "tar.gz of the version folder": tar_of(folder / "1"),
        "tar.gz, model at the root": tar_of(folder / "1", arcname=""),
        "plain tar (a directory by reference)": tar_of(folder, compress=False),
        "zip of the folder": zip_of(folder),
        "zip, model at the root": zip_of(folder / "1", arcname=""),
    }


def test_every_archive_form_serves_the_same_answers(tf_models: TensorFlowModels) -> None:
    answers = {}
    for form, artifact in archives(tf_models.tf1_saved["softmax"]).items():
        model = load(artifact)
        result = model.predict(wine_batch(model))
        answers[form] = (list(result.labels or ()), np.asarray(result.probabilities))
        model.close()
    first_labels, first_probabilities = next(iter(answers.values()))
    for labels, probabilities in answers.values():
        assert labels == first_labels
        np.testing.assert_array_equal(probabilities, first_probabilities)


def test_a_softmax_savedmodel_answers_probabilities(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    folder = tf_models.tf1_saved["softmax"]
    model = load(tar_of(folder), labels=[f"q{i}" for i in range(9)])
    assert warm_up(model).classes == tuple(f"q{i}" for i in range(9))
    result = model.predict(wine_batch(model))
    direct = saved_answer(tf, folder / "1", "predict", inputs=wine_arrays()[0])["outputs"]
    assert result.probabilities is not None
    np.testing.assert_allclose(result.probabilities, direct, atol=1e-6)
    assert list(result.labels or ()) == [f"q{i}" for i in direct.argmax(axis=1)]
    assert row_problems(result) == {}


def test_a_regression_savedmodel_answers_values(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    folder = tf_models.tf1_saved["regression"]
    model = load(tar_of(folder))
    result = model.predict(wine_batch(model))
    direct = saved_answer(tf, folder / "1", "predict", inputs=wine_arrays()[0])["outputs"]
    np.testing.assert_allclose(np.asarray(result.values), direct[:, 0], atol=1e-6)


MIXED_ROWS = [
    {"x": [0.5, -1.0, 2.0], "n": 3, "s": "merlot"},
    {"x": [0.0, 0.0, 0.0], "n": -2, "s": ""},
    {"x": [1.5, 2.5, -0.5], "n": 7, "s": "grüner veltliner"},
]


def test_a_tf2_savedmodel_takes_inputs_of_their_own_types(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    model = load(tar_of(tf_models.tf2_saved))
    assert model.input_schema.inputs == (
        InputSpec("n", "integer", nullable=False),
        InputSpec("s", "string", nullable=False),
        InputSpec("x", "float", (3,)),
    )
    assert warm_up(model).classes == ("0", "1", "2", "3")
    result = model.predict(typed_batch(model.input_schema, MIXED_ROWS))
    direct = saved_answer(
        tf,
        tf_models.tf2_saved,
        "serving_default",
        x=np.array([r["x"] for r in MIXED_ROWS], np.float32),
        n=np.array([r["n"] for r in MIXED_ROWS], np.int64),
        s=np.array([str(r["s"]).encode() for r in MIXED_ROWS]),
    )["probabilities"]
    np.testing.assert_allclose(np.asarray(result.probabilities), direct, atol=1e-6)
    assert row_problems(result) == {}
    ordered = load(tar_of(tf_models.tf2_saved), inputs=["x", "n", "s"])
    assert ordered.input_schema.names == ["x", "n", "s"]
    with pytest.raises(ModelLoadError, match=r"the model's inputs are \['n', 's', 'x'\]"):
        load(tar_of(tf_models.tf2_saved), inputs=["x", "n"])


def test_the_signature_is_chosen_by_name(tf_models: TensorFlowModels) -> None:
    artifact = tar_of(tf_models.tf2_saved)
    with pytest.raises(
        ModelLoadError, match=r"no signature 'predict'; its signatures: \['by_two', 'serving_def"
    ):
        load(artifact, signature_name="predict")
    with pytest.raises(ModelLoadError, match=r"2 outputs \(\['count', 'doubled'\]\).*`outputs`"):
        load(artifact, signature_name="by_two")
    doubled = load(artifact, signature_name="by_two", outputs=["doubled"])
    result = doubled.predict(typed_batch(doubled.input_schema, MIXED_ROWS))
    assert result.kind == "classifier" and result.scores is not None  # no Softmax: scores
    both = load(artifact, signature_name="by_two", outputs=["doubled", "count"])
    rows = both.predict(typed_batch(both.input_schema, MIXED_ROWS)).rows()
    assert rows[0]["outputs"]["count"] == 3 and len(rows[0]["outputs"]["doubled"]) == 4
    with pytest.raises(ModelLoadError, match=r"`outputs` names 'nope'.*\['count', 'doubled'\]"):
        load(artifact, signature_name="by_two", outputs=["nope"])


def test_outputs_may_name_the_tensor(tf_models: TensorFlowModels) -> None:
    model = load(tar_of(tf_models.tf1_saved["sigmoid"]), outputs=["dense_3/Sigmoid"])
    assert warm_up(model).kind == "classifier"


def test_several_signatures_and_no_default_need_a_name(tmp_path: Path) -> None:
    tf = tensorflow_or_skip()
    tf1_saved_model(tf, "sigmoid", tmp_path / "m", signatures=("alpha", "beta"))
    artifact = tar_of(tmp_path / "m")
    with pytest.raises(ModelLoadError, match=r"`signatureName` \(\['alpha', 'beta'\]\)"):
        load(artifact)
    assert warm_up(load(artifact, signature_name="beta")).kind == "classifier"


def test_a_keras_savedmodel_needs_its_columns_named(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    artifact = zip_of(tf_models.keras_saved)
    with pytest.raises(ModelLoadError, match="width 4: the descriptor must list its columns"):
        load(artifact)
    model = load(artifact, inputs=["a", "b", "c", "d"])
    assert warm_up(model).classes == ("0", "1", "2")
    rows = [{"a": 1.0, "b": -2.0, "c": 0.5, "d": 3.0}, {"a": 0.0, "b": 0.0, "c": 0.0, "d": 1.0}]
    result = model.predict(typed_batch(model.input_schema, rows))
    features = np.array([list(r.values()) for r in rows], np.float32)
    direct = saved_answer(tf, tf_models.keras_saved, "serving_default", feats=features)
    np.testing.assert_allclose(np.asarray(result.probabilities), direct["output_0"], atol=1e-6)


def test_the_extracted_files_are_removed_on_close_and_on_failure(
    tf_models: TensorFlowModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = load(tar_of(tf_models.tf1_saved["sigmoid"]))
    assert len(list(tmp_path.iterdir())) == 1
    model.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ModelLoadError):
        load(tar_of(tf_models.tf1_saved["sigmoid"]), signature_name="nope")
    assert list(tmp_path.iterdir()) == []


def test_an_archive_without_one_savedmodel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "README").write_text("no model here")
    with pytest.raises(ModelLoadError, match=r"no saved_model\.pb at its root or inside its one"):
        load(tar_of(tmp_path / "a"))
    for version in ("1", "2"):
        (tmp_path / "a" / version).mkdir()
        (tmp_path / "a" / version / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"it has a/1/saved_model.pb, a/2/saved_model.pb"):
        load(tar_of(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "saved_model.pb").write_bytes(b"\x0a\xff\xff garbage")
    with pytest.raises(ModelLoadError):
        load(tar_of(tmp_path / "b"))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    head=st.sampled_from(
        [b"", b"\x1f\x8b", b"PK\x03\x04", b"\x1f\x8b\x08\x00", bytes(257) + b"ustar"]
    ),
    body=st.binary(max_size=1024),
)
def test_garbage_bytes_fail_as_a_load_error(
    tf_models: TensorFlowModels, head: bytes, body: bytes
) -> None:
    with pytest.raises(ModelLoadError):
        load(head + body)
