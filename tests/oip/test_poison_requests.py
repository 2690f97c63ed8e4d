"""Property-based: whatever a client sends as an inference request (bytes, JSON of any shape,
well-formed requests of random names, datatypes, shapes, data and binary parts), the answer is
a response or a clean OipError with a status, never another exception; and a response is
always of the rows sent."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.control.loader import warm_up
from service.metrics import Metrics
from service.oip.datatypes import DATATYPES
from service.oip.inference import Inference
from service.oip.messages import OipError
from service.oip.rest_codec import read_request
from service.routing.registry import Registry
from service.runtimes.onnx import OnnxModel
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor
from service.wine import WINE_FIELDS
from tests.models import ModelFiles
from tests.strategies import json_values, tricky_text

DEPTH = 64


def inference_over(model_files: ModelFiles) -> Inference:
    registry, metrics = Registry(), Metrics()
    artifact = model_files.forest_onnx.read_bytes()
    descriptor = ModelDescriptor.model_validate(
        {"name": "rf", "version": 1, "dataType": "w", "modelType": "ONNX", "data": artifact}
    )
    model = OnnxModel(artifact, WINE_FIELDS, None)
    registry.begin_load(descriptor)
    registry.install(descriptor, model, "0" * 64, warm_up(model))
    engine = Engine(registry, metrics, None)
    return Inference(registry, engine, metrics, 100, lambda: True, lambda: True, "0")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=256), header=st.none() | st.integers(-5, 300))
def test_any_bytes_are_read_or_refused(body: bytes, header: int | None) -> None:
    status = _status(lambda: read_request(body, header, DEPTH))
    assert status in (None, 400)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_values())
def test_any_json_is_read_or_refused(document: Any) -> None:
    status = _status(lambda: read_request(orjson.dumps(document), None, DEPTH))
    assert status in (None, 400)


shapes = st.lists(st.integers(0, 12), min_size=0, max_size=3)
data = st.lists(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | tricky_text,
    max_size=30,
)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["X", "x", "fixed_acidity"]) | tricky_text,
        "datatype": st.sampled_from(sorted(DATATYPES)) | tricky_text,
        "shape": shapes,
        "data": data | st.lists(data, max_size=3),
    }
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    inputs=st.lists(tensors, min_size=1, max_size=2),
    outputs=st.none() | st.just([{"name": "label"}]),
)
async def test_well_formed_requests_are_answered_or_refused(
    model_files: ModelFiles, inputs: list[dict[str, Any]], outputs: Any
) -> None:
    inference = _cached(model_files)
    body = orjson.dumps({"inputs": inputs} | ({"outputs": outputs} if outputs else {}))
    try:
        response = await inference.infer(
            "rf", None, lambda: read_request(body, None, DEPTH), "rest"
        )
    except OipError as exc:
        refused: OipError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.status in (400, 404, 500), refused.message
        return
    rows = inputs[0]["shape"][0]
    label = next(o.tensor for o in response.outputs if o.tensor.name == "label")
    assert label.shape == (rows,)


async def test_binary_data_of_the_wrong_length_is_refused(model_files: ModelFiles) -> None:
    inference = _cached(model_files)
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "X",
                    "datatype": "FP32",
                    "shape": [2, 11],
                    "parameters": {"binary_data_size": 80},
                }
            ]
        }
    )
    body = header + np.zeros(20, dtype=np.float32).tobytes()
    with pytest.raises(OipError) as refused:
        await inference.infer("rf", None, lambda: read_request(body, len(header), DEPTH), "rest")
    assert refused.value.status == 400
    assert "80 bytes" in refused.value.message and "88 expected" in refused.value.message


def _status(read: Callable[[], object]) -> int | None:
    """None when read, else the refusal's status."""
    try:
        read()
    except OipError as exc:
        return exc.status
    return None


_INFERENCES: dict[int, Inference] = {}


def _cached(model_files: ModelFiles) -> Inference:
    """One service per session's model files: Hypothesis calls the test many times."""
    key = id(model_files)
    if key not in _INFERENCES:
        _INFERENCES[key] = inference_over(model_files)
    return _INFERENCES[key]


def test_numbers_beyond_a_float_types_range_are_refused_not_made_infinite() -> None:
    for datatype, value in (("FP16", 1e6), ("FP32", 1e39)):
        body = orjson.dumps(
            {"inputs": [{"name": "x", "datatype": datatype, "shape": [1], "data": [value]}]}
        )
        assert _status(partial(read_request, body, None, DEPTH)) == 400, datatype
    fits = orjson.dumps(
        {"inputs": [{"name": "x", "datatype": "FP16", "shape": [1], "data": [6e4]}]}
    )
    (tensor,) = read_request(fits, None, DEPTH).inputs
    assert np.isfinite(tensor.data).all()
