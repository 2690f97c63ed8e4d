"""The Kafka side of the Open Inference Protocol over the real Inference, engine and batcher,
for the tests of kafka/oip_inference.py: a model that sums its two inputs and counts its calls,
installed as ``sum`` version 3, and records for the OIP input topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from service.inputs.schema import InputSchema, TypedBatch
from service.kafka.oip_inference import Answered, KafkaInference
from service.metrics import Metrics
from service.oip.inference import Inference
from service.routing.registry import Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor

from .fake import FakeRecord

REASONS = {"decode-error", "invalid-record", "no-model", "scoring-error"}


class CountingSum:
    """Answers each row's sum, and counts its calls."""

    input_schema = InputSchema.numeric(["x", "y"])
    runtime = RuntimeInfo("sum", "1")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, batch: TypedBatch) -> BatchResult:
        self.calls.append(batch.size)
        return BatchResult("regressor", batch.size, values=batch.matrix().sum(axis=1))

    def close(self) -> None:
        pass


class Rig:
    def __init__(self, inference: type[Inference] = Inference) -> None:
        self.model = CountingSum()
        self.metrics = Metrics()
        registry = Registry()
        descriptor = ModelDescriptor.model_validate(
            {"name": "sum", "version": 3, "dataType": "sums", "modelType": "ONNX", "data": "AA=="}
        )
        registry.install(descriptor, self.model, "0" * 64)
        engine = Engine(registry, self.metrics, None)
        answering = inference(registry, engine, self.metrics, 1000, lambda: True, lambda: True, "t")
        self.requests = KafkaInference(answering, self.metrics, "in", "out", 64)
        self.offset = 0

    def record(
        self, value: Any, key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> FakeRecord:
        raw = value if isinstance(value, bytes) or value is None else orjson.dumps(value)
        self.offset += 1
        return FakeRecord("in", 0, self.offset, key, raw, 0, tuple(headers))

    def request(
        self, x: float, y: float, key: str | None = None, model: str = "sum", **headers: str
    ) -> FakeRecord:
        body = {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [1], "data": [x]},
                {"name": "y", "datatype": "FP64", "shape": [1], "data": [y]},
            ]
        }
        names = [("mlserver-model", model.encode())]
        names += [(k.replace("_", "-"), v.encode()) for k, v in headers.items()]
        return self.record(body, key.encode() if key else None, names)


def reasons(answered: Answered) -> list[str]:
    return [o.error.reason for o in answered.dead_letters if o.error is not None]
