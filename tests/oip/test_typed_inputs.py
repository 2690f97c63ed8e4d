"""A model with string and number inputs (the census salary pipeline, as skl2onnx exports
it: one input per column) served through the protocol: its metadata lists one tensor per
input in the graph's types, a request of those tensors is answered as the same rows sent as
records are, and a tensor of the wrong type or shape is refused naming it."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from bench import salary
from service.control.loader import warm_up
from service.metrics import Metrics
from service.oip.inference import Inference
from service.oip.messages import InferRequest, OipError, Tensor
from service.routing.registry import Registry
from service.runtimes.onnx import OnnxModel
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor


@pytest.fixture(scope="module")
def served(salary_models: salary.Exports) -> tuple[Inference, Engine, Registry]:
    registry, metrics = Registry(), Metrics()
    descriptor = ModelDescriptor.model_validate(
        {"name": "salary", "version": 2, "dataType": "census", "modelType": "ONNX", "data": b"x"}
    )
    model = OnnxModel(salary_models.onnx, None, None)
    registry.begin_load(descriptor)
    registry.install(descriptor, model, "0" * 64, warm_up(model))
    engine = Engine(registry, metrics, None)
    inference = Inference(registry, engine, metrics, 100, lambda: True, lambda: True, "0")
    return inference, engine, registry


def tensors(inference: Inference, rows: list[dict[str, Any]]) -> list[Tensor]:
    meta = inference.metadata("salary")
    made = []
    for spec in meta.inputs:
        # skl2onnx names the graph's inputs as Python names (education-num: education_num).
        values = [row[spec.name.replace("_", "-")] for row in rows]
        if spec.datatype == "BYTES":
            data = np.array(values, dtype=object)
        else:
            data = np.array(
                values, dtype={"FP32": np.float32, "FP64": np.float64}.get(spec.datatype, np.int64)
            )
        shape = (len(rows), 1) if len(spec.shape) == 2 else (len(rows),)
        made.append(Tensor(spec.name, spec.datatype, shape, data.reshape(shape)))
    return made


async def test_strings_and_numbers_answer_as_records_do(
    served: tuple[Inference, Engine, Registry],
) -> None:
    inference, engine, _ = served
    meta = inference.metadata("salary")
    kinds = {t.name: t.datatype for t in meta.inputs}
    assert {name.replace("_", "-") for name in kinds} == set(salary.FIELDS)
    assert "BYTES" in kinds.values() and any(d != "BYTES" for d in kinds.values())
    rows = salary.records(40, seed=5)
    response = await inference.infer("salary", None, InferRequest(tensors(inference, rows)), "rest")
    by_name = {o.tensor.name: o.tensor for o in response.outputs}
    outcomes = await engine.score_request("census", rows)
    expected = [orjson.loads(o.result_json or b"null")["label"] for o in outcomes]
    assert list(by_name["label"].data) == expected
    assert by_name["probabilities"].shape == (40, len(by_name["classes"].data))


async def test_a_tensor_of_the_wrong_type_or_shape_is_refused_by_name(
    served: tuple[Inference, Engine, Registry],
) -> None:
    inference, _, _ = served
    rows = salary.records(3, seed=1)
    good = tensors(inference, rows)
    text = next(t for t in good if t.datatype == "BYTES")
    number = next(t for t in good if t.datatype != "BYTES")
    swapped = [Tensor(t.name, "FP64", t.shape, np.zeros(t.shape)) if t is text else t for t in good]
    with pytest.raises(OipError) as refused:
        await inference.infer("salary", None, InferRequest(swapped), "rest")
    assert refused.value.status == 400 and repr(text.name) in refused.value.message
    short = [
        Tensor(t.name, t.datatype, (2,), t.data[:2].reshape(2)) if t is number else t for t in good
    ]
    with pytest.raises(OipError) as mismatched:
        await inference.infer("salary", None, InferRequest(short), "rest")
    assert mismatched.value.status == 400 and "first dimension" in mismatched.value.message
    missing = [t for t in good if t is not number]
    with pytest.raises(OipError) as absent:
        await inference.infer("salary", None, InferRequest(missing), "rest")
    assert absent.value.status == 400 and number.name in absent.value.message
