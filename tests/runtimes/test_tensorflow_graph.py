"""TENSORFLOW models (frozen GraphDefs) against TensorFlow run directly: the label is the
class TensorFlow scores highest, the scores TensorFlow's, a softmax's rows probabilities; the
placeholder without a shape (Lightbend's) takes the wine record's eleven fields."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.control.loader import warm_up
from service.errors import ModelLoadError
from service.inputs.conversion import typed_batch
from service.inputs.schema import TypedBatch
from service.runtimes.base import Model, tensor_inputs
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.runtimes.checks import row_problems
from service.wine import WINE_FIELDS, wine_arrays
from tests.runtimes.tensorflow_models import TensorFlowModels, graph_answer, tensorflow_or_skip


def load(artifact: bytes, **descriptor: Any) -> Model:
    return RUNTIMES.get("TENSORFLOW").load(LoadRequest(artifact, **descriptor))


def wine_batch(model: Model, rows: int | None = None) -> TypedBatch:
    features, _ = wine_arrays()
    return TypedBatch.of_matrix(model.input_schema, features[:rows].astype(np.float64))


def test_the_sigmoid_net_answers_tensorflows_highest_class_and_its_scores(
    tf_models: TensorFlowModels,
) -> None:
    tf = tensorflow_or_skip()
    graph, output = tf_models.graphs["sigmoid"]
    model = load(graph)
    assert model.runtime.engine == "tensorflow" and model.runtime.version == tf.__version__
    assert model.input_schema.names == list(WINE_FIELDS)
    assert {spec.type for spec in model.input_schema.inputs} == {"float"}
    shape = warm_up(model)
    # Its classes are the scores' columns; they are not probabilities.
    assert (shape.kind, shape.classes) == ("classifier", tuple(str(i) for i in range(9)))
    assert (shape.scores, shape.probabilities) == (9, False)
    result = model.predict(wine_batch(model))
    direct = graph_answer(tf, graph, output, wine_arrays()[0])
    assert list(result.labels or ()) == [str(i) for i in direct.argmax(axis=1)]
    assert len(set(result.labels or ())) > 1  # the model tells wines apart
    assert result.probabilities is None and result.scores is not None
    np.testing.assert_allclose(result.scores, direct, atol=1e-6)
    first = result.rows()[0]
    assert set(first) == {"label", "scores"} and len(first["scores"]) == 9
    assert row_problems(result) == {}
    model.close()


def test_labels_name_the_classes_of_the_scores(tf_models: TensorFlowModels) -> None:
    graph, _ = tf_models.graphs["sigmoid"]
    names = [f"q{i}" for i in range(9)]
    model = load(graph, labels=names)
    result = model.predict(wine_batch(model, 200))
    assert result.scores is not None
    assert list(result.labels or ()) == [names[i] for i in np.argmax(result.scores, axis=1)]
    with pytest.raises(ModelLoadError, match="3 labels for the 9 columns"):
        warm_up(load(graph, labels=["a", "b", "c"]))


def test_a_softmax_answers_probabilities(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    graph, output = tf_models.graphs["softmax"]
    model = load(graph)
    assert warm_up(model).classes == tuple(str(i) for i in range(9))
    result = model.predict(wine_batch(model))
    direct = graph_answer(tf, graph, output, wine_arrays()[0])
    assert result.probabilities is not None and result.scores is None
    np.testing.assert_allclose(result.probabilities, direct, atol=1e-6)
    assert list(result.labels or ()) == [str(i) for i in direct.argmax(axis=1)]
    assert row_problems(result) == {}  # float32 sums pass the checks
    assert set(result.rows()[0]["probabilities"]) == {str(i) for i in range(9)}


def test_one_output_column_is_a_regressor(tf_models: TensorFlowModels) -> None:
    tf = tensorflow_or_skip()
    graph, output = tf_models.graphs["regression"]
    model = load(graph)
    assert warm_up(model).kind == "regressor"
    result = model.predict(wine_batch(model))
    direct = graph_answer(tf, graph, output, wine_arrays()[0])
    assert result.values is not None and np.shape(result.values) == (len(direct),)
    np.testing.assert_allclose(result.values, direct[:, 0], atol=1e-6)


@pytest.mark.parametrize("named", ["dense_3/Sigmoid", "dense_3/Sigmoid:0"])
def test_outputs_name_the_answer(tf_models: TensorFlowModels, named: str) -> None:
    graph, _ = tf_models.graphs["sigmoid"]
    model = load(graph, outputs=[named])
    assert model.predict(wine_batch(model, 5)).scores is not None


def test_several_outputs_are_named_outputs(tf_models: TensorFlowModels) -> None:
    graph, _ = tf_models.graphs["sigmoid"]
    model = load(graph, outputs=["dense_3/Sigmoid", "dense_2/Relu:0"])
    assert warm_up(model).kind == "outputs"
    row = model.predict(wine_batch(model, 3)).rows()[0]["outputs"]
    assert set(row) == {"dense_3/Sigmoid", "dense_2/Relu"}
    assert (len(row["dense_3/Sigmoid"]), len(row["dense_2/Relu"])) == (9, 8)
    with pytest.raises(ModelLoadError, match="`outputs` names 'dense_9/Nope'"):
        load(graph, outputs=["dense_9/Nope"])


def test_inputs_name_the_columns(tf_models: TensorFlowModels) -> None:
    graph, _ = tf_models.graphs["sigmoid"]
    names = [f"f{i}" for i in range(11)]
    model = load(graph, inputs=names)
    assert model.input_schema.names == names
    (tensor,) = tensor_inputs(model)
    assert (tensor.name, tensor.columns, tensor.shape) == ("dense_1_input", tuple(names), (11,))
    with pytest.raises(ModelLoadError, match="`inputs` names 3 fields"):
        load(graph, inputs=["a", "b", "c"])


def test_a_missing_value_is_refused_in_its_row_only(tf_models: TensorFlowModels) -> None:
    """A float input takes a missing value (as ONNX's): NaN is fed, and the row whose scores
    come out NaN is refused, not answered with class 0."""
    graph, _ = tf_models.graphs["sigmoid"]
    model = load(graph)
    rows: list[dict[str, float | None]] = [dict.fromkeys(WINE_FIELDS, 1.0) for _ in range(3)]
    rows[1]["alcohol"] = None  # null, or absent from the record: both read as missing
    result = model.predict(typed_batch(model.input_schema, rows))
    assert set(row_problems(result)) == {1}
    assert "NaN" in row_problems(result)[1]


def test_the_session_uses_the_workers_threads(tf_models: TensorFlowModels) -> None:
    graph, _ = tf_models.graphs["sigmoid"]
    model = load(graph, options=LoadOptions(intra_op_threads=3))
    config = model._session._config  # type: ignore[attr-defined]
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (3, 1)


def small_graph(build: Any) -> bytes:
    tf = tensorflow_or_skip()
    graph = tf.Graph()
    with graph.as_default():
        build(tf)
    return bytes(graph.as_graph_def().SerializeToString())


def test_graphs_it_cannot_serve_are_refused_saying_why(tf_models: TensorFlowModels) -> None:
    def width_four(tf: Any) -> None:
        x = tf.compat.v1.placeholder(tf.float32, name="x")
        tf.linalg.matmul(x, tf.ones([4, 2]), name="y")

    with pytest.raises(ModelLoadError, match="width 4: the descriptor must list its columns"):
        load(small_graph(width_four))
    assert load(small_graph(width_four), inputs=list("abcd")).input_schema.names == list("abcd")

    def two_answers(tf: Any) -> None:
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        tf.math.sigmoid(x, name="a")
        tf.math.tanh(x, name="b")

    with pytest.raises(ModelLoadError, match=r"tensors nobody consumes: a \(Sigmoid\), b"):
        load(small_graph(two_answers), inputs=["p", "q"])
    assert load(small_graph(two_answers), inputs=["p", "q"], outputs=["b"]) is not None

    def with_variables(tf: Any) -> None:
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        tf.linalg.matmul(x, tf.compat.v1.Variable(tf.ones([2, 1])), name="y")

    with pytest.raises(ModelLoadError, match="has variables"):
        load(small_graph(with_variables), inputs=["p", "q"])

    with pytest.raises(ModelLoadError, match="no Placeholder"):
        load(small_graph(lambda tf: tf.constant(1.0, name="c") + 1.0))


def test_several_placeholders_are_inputs_of_their_own_types() -> None:
    def mixed(tf: Any) -> None:
        a = tf.compat.v1.placeholder(tf.float64, [None], name="a")
        n = tf.compat.v1.placeholder(tf.int32, [None, 1], name="n")
        tf.identity(a + tf.cast(n[:, 0], tf.float64), name="y")

    model = load(small_graph(mixed))
    assert [(s.name, s.type, s.nullable) for s in model.input_schema.inputs] == [
        ("a", "double", True),
        ("n", "integer", False),
    ]
    result = model.predict(typed_batch(model.input_schema, [{"a": 1.5, "n": 2}]))
    assert np.asarray(result.values).tolist() == [3.5]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(artifact=st.binary(max_size=512))
def test_garbage_bytes_fail_as_a_load_error(tf_models: TensorFlowModels, artifact: bytes) -> None:
    try:
        model = load(artifact)
    except ModelLoadError:
        return
    model.close()  # bytes that happen to be a servable graph: served


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_damaged_graph_fails_as_a_load_error(tf_models: TensorFlowModels, data: Any) -> None:
    graph = bytearray(tf_models.graphs["sigmoid"][0])
    cut = data.draw(st.integers(1, len(graph)))
    flips = data.draw(st.lists(st.integers(0, cut - 1), max_size=4))
    for i in flips:
        graph[i] ^= 0xFF
    try:
        model = load(bytes(graph[:cut]))
    except ModelLoadError:
        return
    model.close()


def test_loading_the_catalog_and_runtimes_imports_no_tensorflow() -> None:
    """A service that serves only ONNX never pays TensorFlow's import (seconds, hundreds of
    MB): the runtimes import it when their first model loads."""
    code = (
        "import sys\n"
        "import service.runtimes.catalog, service.runtimes.tensorflow_graph\n"
        "import service.runtimes.tensorflow_saved, service.control.loader\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
