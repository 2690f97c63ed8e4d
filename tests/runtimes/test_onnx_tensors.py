"""ONNX models whose inputs are tensors per record (an embedding, an image) beside scalars of
other element types: the schema says each input's per-row shape, a record's list feeds it, and
a list of another shape is refused naming both shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from service.control.loader import warm_up
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch
from service.inputs.schema import InputSpec
from service.runtimes.onnx import OnnxModel


def graph_model(nodes: list[Any], inputs: list[Any], outputs: list[Any]) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def embedding_model() -> bytes:
    """y = sum(embedding) * weight + count: a float [N,4] tensor, a double and an int64."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("ReduceSum", ["embedding", "axes"], ["total"], keepdims=1),
        helper.make_node("Cast", ["weight"], ["weight32"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["count"], ["count32"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["total", "weight32"], ["scaled"]),
        helper.make_node("Add", ["scaled", "count32"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "embedding",
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("weight", TensorProto.DOUBLE, ["N", 1]),
            helper.make_tensor_value_info("count", TensorProto.INT64, ["N", 1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=[axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def image_model() -> bytes:
    """The mean pixel of a [N,2,3] image: one input, a tensor per record."""
    return graph_model(
        [helper.make_node("ReduceMean", ["image"], ["y"], keepdims=0, axes=[1, 2])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])],
    )


def scored(model: OnnxModel, rows: list[dict[str, Any]]) -> tuple[list[float], dict[int, str]]:
    schema = model.input_schema
    batch, _, errors = build_batch(rows, FieldBinder(schema.names, None), schema)
    values = np.asarray(model.predict(batch).values).tolist()
    return values, {i: str(e) for i, e in errors.items()}


def test_an_embedding_beside_scalars_of_other_types() -> None:
    model = OnnxModel(embedding_model(), None, None)
    assert model.input_schema.inputs == (
        InputSpec("embedding", "float", (4,)),
        InputSpec("weight", "double"),
        InputSpec("count", "integer", nullable=False),
    )
    assert model.input_schema.document()[0] == {"name": "embedding", "type": "float", "shape": [4]}
    warm_up(model)
    rows = [
        {"embedding": [1, 2, 3, 4], "weight": 0.5, "count": 2},
        {"embedding": [1, 2, 3], "weight": 1, "count": 1},
        {"embedding": [[1, 2], [3, 4]], "weight": 1, "count": 1},
        {"embedding": [0.5, 0.5, 0.5, 0.5], "weight": 2, "count": "3"},
        {"embedding": "1,2,3,4", "weight": 1, "count": 1},
        {"embedding": [1, 2, 3, 4], "weight": 1, "count": 1.5},
    ]
    values, errors = scored(model, rows)
    assert values == [7.0, 7.0]
    assert errors == {
        1: "feature 'embedding' has shape [3], the model takes [4]",
        2: "feature 'embedding' has shape [2, 2], the model takes [4]",
        4: "feature 'embedding' is not a list: the model takes a tensor of shape [4] per record",
        5: "feature 'count' is not a whole number: 1.5",
    }


def test_an_image_per_record() -> None:
    model = OnnxModel(image_model(), None, None)
    assert model.input_schema.inputs == (InputSpec("image", "float", (2, 3)),)
    warm_up(model)
    values, errors = scored(
        model,
        [{"image": [[1, 2, 3], [4, 5, 6]]}, {"image": [1, 2, 3, 4, 5, 6]}, {"image": None}],
    )
    # null is a missing value: a tensor of NaN, whose NaN answer the checks then refuse
    # (a scoring-error dead letter), never a made-up image.
    assert values[0] == 3.5 and np.isnan(values[1])
    assert errors == {1: "feature 'image' has shape [6], the model takes [2, 3]"}


def test_an_integer_beyond_what_the_input_holds_is_refused() -> None:
    """Beyond 2^53 a float64 would carry another number (refused by the conversion); within
    it, but beyond what an int8 input holds, the batch would wrap (refused by the feed)."""
    model = OnnxModel(embedding_model(), None, None)
    row = {"embedding": [0, 0, 0, 0], "weight": 1}
    _, errors = scored(model, [{**row, "count": 2**60}, {**row, "count": 5}])
    assert errors == {
        0: f"feature 'count' is beyond ±(2^53 - 1), what an integer input takes: {2**60}"
    }


def test_a_number_a_narrow_integer_input_cannot_hold_fails_the_batch() -> None:
    """int8 holds -128..127: 300 would wrap to 44, so the call is refused (the engine then
    scores the rows one by one, and only this one is a dead letter)."""
    model = OnnxModel(
        graph_model(
            [helper.make_node("Cast", ["code"], ["y"], to=TensorProto.FLOAT)],
            [helper.make_tensor_value_info("code", TensorProto.INT8, ["N", 1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        ),
        None,
        None,
    )
    assert scored(model, [{"code": 100}])[0] == [100.0]
    with pytest.raises(ValueError, match="input 'code' takes int8"):
        scored(model, [{"code": 100}, {"code": 300}])
