"""Failure paths with no broker needed: a model that fails on some rows, and an output the
broker never acknowledges."""

from __future__ import annotations

import orjson

from service.errors import ScoringError
from service.inputs.schema import InputSchema, TypedBatch
from service.metrics import Metrics
from service.routing.registry import Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.engine import Engine
from service.scoring.records import LocalRecord
from service.serving.descriptor import ModelDescriptor


class PoisonedModel:
    """Scores the sum of a row, but fails any call that contains a negative value."""

    input_schema = InputSchema.numeric(["a", "b"])
    runtime = RuntimeInfo("poisoned", "1")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, batch: TypedBatch) -> BatchResult:
        features = batch.matrix()
        self.calls.append(batch.size)
        if (features < 0).any():
            raise ValueError("negative input")
        return BatchResult("regressor", len(features), values=features.sum(axis=1))

    def close(self) -> None:
        pass


async def test_a_poisonous_record_costs_only_its_own_dead_letter() -> None:
    registry, model = Registry(), PoisonedModel()
    descriptor = ModelDescriptor.model_validate(
        {"name": "p", "version": 1, "dataType": "d", "modelType": "ONNX", "data": "AA=="}
    )
    registry.install(descriptor, model, "0" * 64)
    rows = [{"a": 1, "b": 2}, {"a": -1, "b": 2}, {"a": 3, "b": 4}]
    records = [
        LocalRecord(orjson.dumps({"dataType": "d", **r}), topic="t", partition=0, offset=i)
        for i, r in enumerate(rows)
    ]
    outcomes = await Engine(registry, Metrics(), None).score(records)
    assert [o.result for o in outcomes] == [{"value": 3.0}, None, {"value": 7.0}]
    assert isinstance(outcomes[1].error, ScoringError) and "negative input" in str(
        outcomes[1].error
    )
    assert outcomes[1].model is not None and outcomes[1].model.label == "p:1"
    assert model.calls == [3, 1, 1, 1]  # the batch once, then each row alone
