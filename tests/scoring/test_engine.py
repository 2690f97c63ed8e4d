"""Failure paths with no broker needed: a model that fails on some rows, and an output the
broker never acknowledges."""

from __future__ import annotations

import threading
import time

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


class WhereCalled:
    """Sums rows, noting which thread each call ran on; ``pause_s`` makes a call slow."""

    input_schema = InputSchema.numeric(["a"])
    runtime = RuntimeInfo("where", "1")

    def __init__(self, pause_s: float = 0.0) -> None:
        self.pause_s = pause_s
        self.threads: list[int] = []

    def predict(self, batch: TypedBatch) -> BatchResult:
        self.threads.append(threading.get_ident())
        if self.pause_s:
            time.sleep(self.pause_s)
        return BatchResult("regressor", batch.size, values=batch.matrix().sum(axis=1))

    def close(self) -> None:
        pass


async def test_short_calls_run_on_the_loop_and_long_ones_in_a_thread() -> None:
    loop_thread = threading.get_ident()
    for model, inline_after_first in ((WhereCalled(), True), (WhereCalled(0.005), False)):
        registry = Registry()
        descriptor = ModelDescriptor.model_validate(
            {"name": "w", "version": 1, "dataType": "d", "modelType": "ONNX", "data": "AA=="}
        )
        serving = registry.install(descriptor, model, "0" * 64)
        engine = Engine(registry, Metrics(), None)
        for _ in range(6):
            batch = TypedBatch.of_matrix(model.input_schema, [[1.0], [2.0]])
            await engine.score_batch(serving, batch, "d")
        assert model.threads[0] != loop_thread  # nothing known of a model's first call
        # The fast model's estimate is the least of its last three calls: one slowed by a busy
        # machine does not send the next ones to a thread.
        on_loop = [t == loop_thread for t in model.threads[3:]]
        assert on_loop == [inline_after_first] * 3, model.pause_s
