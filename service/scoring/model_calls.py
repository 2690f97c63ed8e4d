"""One model call for a batch, where it costs least: in a worker thread, or on the event loop
when the model's recent calls say it is shorter than handing it over would be."""

from __future__ import annotations

import asyncio
import time

from service.inputs.schema import TypedBatch
from service.runtimes.base import BatchResult
from service.serving.model import ServingModel

# A model call expected to take less than this runs on the event loop itself: handing it to a
# worker thread and back costs more (two thread switches, and the GIL handed over, 0.2-2 ms on
# two busy cores, measured) than the call, and request-reply of one row pays it every time.
INLINE_CALL_MS = 1.0


async def predict(serving: ServingModel, batch: TypedBatch) -> BatchResult:
    """The model's answer for the batch: in a worker thread (onnxruntime and the JVMs release
    the GIL, so the loop fetches and writes meanwhile), unless its past calls say it takes
    less than INLINE_CALL_MS for this many rows (a model's first call always goes to a thread:
    nothing is known of it yet). The estimate is of the call alone, timed where it runs. A model
    whose ``runs_inline`` is False (a Python handler, which may hang) always goes to a thread:
    a fast past says nothing of its next call."""
    per_row = serving.stats.call_ms_per_row
    inline = getattr(serving.model, "runs_inline", True) is not False
    if inline and per_row is not None and per_row * batch.size < INLINE_CALL_MS:
        return timed_predict(serving, batch)
    return await asyncio.to_thread(timed_predict, serving, batch)


def timed_predict(serving: ServingModel, batch: TypedBatch) -> BatchResult:
    started = time.perf_counter()
    result = serving.model.predict(batch)
    serving.stats.record_call((time.perf_counter() - started) * 1000.0, batch.size)
    return result
