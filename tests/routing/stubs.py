"""Models for route tests, with answers a test can compute by hand, installed with the shape
their warm-up gives (as the loader does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import orjson

from service.control.descriptor import ControlLimits
from service.control.loader import warm_up
from service.control.route_records import apply_route_record
from service.inputs.schema import InputSchema, TypedBatch
from service.routing.registry import Registry
from service.routing.route_spec import route_key
from service.runtimes.base import BatchResult, Model, RuntimeInfo
from service.scoring.records import LocalRecord
from service.serving.descriptor import ModelDescriptor
from service.serving.model import ServingModel


class Scaled:
    """A regressor: value = factor · x; refuses negative x (the batch fails)."""

    runtime = RuntimeInfo("scaled", "1")

    def __init__(self, factor: float, field: str = "x", delay_s: float = 0.0) -> None:
        self.factor = factor
        self.input_schema = InputSchema.numeric([field])
        self.delay_s = delay_s

    def predict(self, batch: TypedBatch) -> BatchResult:
        time.sleep(self.delay_s)
        features = batch.matrix()
        if (features < 0).any():
            raise ValueError("negative")
        return BatchResult("regressor", len(features), values=features[:, 0] * self.factor)

    def close(self) -> None:
        pass


class Threshold:
    """A classifier over classes ``classes``: the class at index ``int(x + shift) % k``, with
    probability ``confidence`` on it and the rest spread evenly. ``gate`` (when given) holds
    every call until it is set, and ``delay_s`` slows each call."""

    runtime = RuntimeInfo("threshold", "1")

    def __init__(
        self,
        shift: int = 0,
        classes: Sequence[str] = ("a", "b", "c"),
        confidence: float = 0.8,
        delay_s: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        self.shift = shift
        self.classes = list(classes)
        self.confidence = confidence
        self.delay_s = delay_s
        self.gate = gate
        self.input_schema = InputSchema.numeric(["x"])
        self.calls = 0

    def predict(self, batch: TypedBatch) -> BatchResult:
        features = batch.matrix()
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.delay_s)
        k = len(self.classes)
        index = (features[:, 0].astype(np.int64) + self.shift) % k
        rest = (1.0 - self.confidence) / (k - 1)
        probabilities = np.full((len(features), k), rest)
        probabilities[np.arange(len(features)), index] = self.confidence
        labels = [self.classes[i] for i in index.tolist()]
        return BatchResult("classifier", len(features), labels, self.classes, probabilities)

    def label(self, x: float) -> str:
        return self.classes[(int(x) + self.shift) % len(self.classes)]

    def close(self) -> None:
        pass


def descriptor(name: str, data_type: str = "d", version: int = 1) -> ModelDescriptor:
    doc = {"name": name, "version": version, "dataType": data_type, "modelType": "ONNX"}
    return ModelDescriptor.model_validate({**doc, "data": "AA=="})


def install(
    registry: Registry, name: str, model: Model, data_type: str = "d", version: int = 1
) -> ServingModel:
    return registry.install(descriptor(name, data_type, version), model, "0" * 64, warm_up(model))


def declare(registry: Registry, data_type: str = "d", **route: object) -> None:
    """A route record, as the control plane applies it (an invalid one is rejected)."""
    value = orjson.dumps({"kind": "route", "dataType": data_type, **route})
    apply_route_record(registry, route_key(data_type).encode(), value, ControlLimits(1 << 20))


def records(
    *xs: float, data_type: str = "d", keys: Sequence[str] | None = None
) -> list[LocalRecord]:
    return [
        LocalRecord(
            orjson.dumps({"dataType": data_type, "x": x}),
            key=(keys[i] if keys else f"k{i}").encode(),
            topic="in",
            partition=0,
            offset=i,
        )
        for i, x in enumerate(xs)
    ]
