"""Where a model call runs: on the event loop when the model's recent calls say it is short,
in a worker thread otherwise (and always the first time)."""

from __future__ import annotations

import threading
import time

from service.inputs.schema import InputSchema, TypedBatch
from service.metrics import Metrics
from service.routing.registry import Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor


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


class NeverInline(WhereCalled):
    """A model that may take any time (a Python handler): never called on the loop."""

    runs_inline = False


async def test_a_model_that_does_not_run_inline_always_goes_to_a_thread() -> None:
    loop_thread = threading.get_ident()
    model = NeverInline()
    registry = Registry()
    descriptor = ModelDescriptor.model_validate(
        {"name": "w", "version": 1, "dataType": "d", "modelType": "ONNX", "data": "AA=="}
    )
    serving = registry.install(descriptor, model, "0" * 64)
    engine = Engine(registry, Metrics(), None)
    for _ in range(6):
        await engine.score_batch(serving, TypedBatch.of_matrix(model.input_schema, [[1.0]]), "d")
    assert serving.stats.call_ms_per_row is not None  # its calls were fast, and timed
    assert loop_thread not in model.threads and len(model.threads) == 6
