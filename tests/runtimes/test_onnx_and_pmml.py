"""The runtimes against the libraries run directly: label for label, value for value."""

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import pytest

from service.errors import ModelLoadError
from service.inputs.schema import TypedBatch
from service.runtimes.catalog import PmmlEngineChoice
from service.runtimes.onnx import OnnxModel
from service.runtimes.pmml import open_pmml
from service.wine import WINE_FIELDS
from tests.models import ModelFiles


def test_onnx_classifier_matches_onnxruntime(model_files: ModelFiles) -> None:
    artifact = model_files.forest_onnx.read_bytes()
    x = model_files.features[:300]
    model = OnnxModel(artifact, list(WINE_FIELDS), model_files.forest_classes)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x))
    direct = ort.InferenceSession(artifact).run(None, {"X": x})
    assert result.labels == [str(v) for v in direct[0]]
    assert result.probabilities is not None
    np.testing.assert_allclose(result.probabilities, direct[1], rtol=1e-6)
    rows = result.rows()
    assert set(rows[0]["probabilities"]) == set(model_files.forest_classes)


def test_onnx_zipmap_classifier_without_labels(model_files: ModelFiles) -> None:
    artifact = model_files.forest_zipmap_onnx.read_bytes()
    x = model_files.features[:50]
    model = OnnxModel(artifact, list(WINE_FIELDS), None)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x))
    labels, maps = ort.InferenceSession(artifact).run(None, {"X": x})
    assert result.labels == [str(v) for v in labels]
    assert result.rows()[3]["probabilities"] == pytest.approx(
        {str(k): v for k, v in maps[3].items()}
    )


def test_onnx_regressor(model_files: ModelFiles) -> None:
    artifact = model_files.regressor_onnx.read_bytes()
    x = model_files.features[:20]
    model = OnnxModel(artifact, list(WINE_FIELDS), None)
    direct = ort.InferenceSession(artifact).run(None, {"X": x})[0][:, 0]
    rows = model.predict(TypedBatch.of_matrix(model.input_schema, x)).rows()
    assert [r["value"] for r in rows] == pytest.approx(direct.tolist())


def test_onnx_needs_inputs_of_the_right_width(model_files: ModelFiles) -> None:
    artifact = model_files.forest_onnx.read_bytes()
    with pytest.raises(ModelLoadError, match="inputs"):
        OnnxModel(artifact, None, None)
    with pytest.raises(ModelLoadError, match="names 2 fields"):
        OnnxModel(artifact, ["a", "b"], None)


def test_onnx_garbage_is_a_load_error() -> None:
    with pytest.raises(ModelLoadError, match="not an ONNX model"):
        OnnxModel(b"\x08\x01garbage", ["a"], None)


def _pypmml_direct(path: str, x: np.ndarray) -> dict[str, Any]:
    from pypmml import Model

    from service.runtimes.pmml_pypmml import start_hardened_jvm

    start_hardened_jvm()  # pypmml's JVM is per process: the service's models need it hardened
    model = Model.fromString(Path(path).read_text())
    model.setSupplementOutput(True)
    payload = orjson.dumps({"columns": list(model.inputNames), "data": x.tolist()}).decode()
    answer: dict[str, Any] = orjson.loads(model.predict(payload))
    return answer


ENGINES: list[PmmlEngineChoice] = ["jpmml", "pypmml"]


@pytest.mark.parametrize("engine", ENGINES)
def test_pmml_classifier_matches_pypmml(engine: PmmlEngineChoice, model_files: ModelFiles) -> None:
    """sklearn2pmml's forest names every class in every leaf: both engines agree on it."""
    x = model_files.features[:200].astype(np.float64)
    model = open_pmml(model_files.forest_pmml.read_bytes(), None, engine)
    assert model.input_schema.names == list(WINE_FIELDS)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x))
    direct = _pypmml_direct(str(model_files.forest_pmml), x)
    at = direct["columns"].index("predicted_quality")
    assert result.labels == [str(row[at]) for row in direct["data"]]
    assert result.classes == ["3", "4", "5", "6", "7", "8"]
    assert result.probabilities is not None and result.probabilities.shape == (200, 6)
    probability_columns = [direct["columns"].index(f"probability({c})") for c in result.classes]
    expected = np.array([[row[i] for i in probability_columns] for row in direct["data"]])
    np.testing.assert_allclose(result.probabilities, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_pmml_regressor(engine: PmmlEngineChoice, model_files: ModelFiles) -> None:
    x = model_files.features[:30].astype(np.float64)
    model = open_pmml(model_files.regressor_pmml.read_bytes(), None, engine)
    direct = _pypmml_direct(str(model_files.regressor_pmml), x)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x))
    values = [r["value"] for r in result.rows()]
    assert values == pytest.approx([row[0] for row in direct["data"]])


@pytest.mark.parametrize("engine", ENGINES)
def test_pmml_garbage_is_a_load_error(engine: PmmlEngineChoice) -> None:
    with pytest.raises(ModelLoadError, match=engine):
        open_pmml(b"<PMML>not really</PMML>", None, engine)
    with pytest.raises(ModelLoadError, match="UTF-8"):
        open_pmml(b"\xff\xfe\x00", None, engine)


def _external_data_model(location: str) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((1, 4), dtype=np.float32), "W")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": "16"}.items():
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    return bytes(model.SerializeToString())


@pytest.mark.parametrize("location", ["/etc/hostname", "../../etc/passwd", "weights.bin"])
def test_onnx_external_data_is_refused(location: str) -> None:
    with pytest.raises(ModelLoadError, match="external data"):
        OnnxModel(_external_data_model(location), ["a", "b", "c", "d"], None)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("data_type", "written", "text"),
    [("double", "5.0", "5"), ("integer", "5", "5"), ("string", "5.0", "5.0")],
)
def test_a_class_reads_the_same_as_label_and_as_probability_key(
    engine: PmmlEngineChoice, data_type: str, written: str, text: str
) -> None:
    """Spark writes a double target's classes as "5.0": the label (decoded by the target's
    type) and the probability keys (the output fields' values) must name them alike."""
    from tests.runtimes.pmml_documents import (
        Leaf,
        Split,
        categorical_target,
        classifier_output,
        document,
        tree_model,
    )

    other = written.replace("5", "7")
    tree = Split("x", 4.5, Leaf(written, {written: 3}), Leaf(other, {other: 2, written: 2}))
    classes = (written, other)
    doc = document(
        ("x",),
        categorical_target(classes, data_type),
        tree_model(tree, ("x",), "classification", classifier_output(classes, data_type)),
    )
    model = open_pmml(doc, None, engine)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, [[1.0], [9.0]]))
    assert result.labels == [text, text.replace("5", "7")]  # each leaf's score
    assert result.classes == [text, text.replace("5", "7")]


RANGED = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary numberOfFields="2">
<DataField name="x" optype="continuous" dataType="double">
<Interval closure="closedClosed" leftMargin="1" rightMargin="10"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<RegressionModel functionName="regression"><MiningSchema>
<MiningField name="x" invalidValueTreatment="returnInvalid"/>
<MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/></RegressionTable>
</RegressionModel></PMML>"""


def test_a_row_jpmml_refuses_is_a_dead_letter_and_the_model_still_loads() -> None:
    """JPMML reports an invalid input per row: that row is refused with the engine's reason,
    the others are scored; a warm-up row refused as input (0 is outside [1, 10]) says nothing
    of the model's answers, so it loads."""
    from service.control.loader import warm_up
    from service.errors import ScoringError
    from service.runtimes.answers import publishable_results

    model = open_pmml(RANGED.encode(), None, "jpmml")
    warm_up(model)
    batch = TypedBatch.of_matrix(model.input_schema, [[2.0], [50.0]])
    rows = publishable_results(model.predict(batch), model.runtime)
    assert rows[0] == b'{"value":5.0}'
    assert isinstance(rows[1], ScoringError)
    assert "cannot accept invalid value 50.0" in str(rows[1])
