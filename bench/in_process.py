"""The service's own path without Kafka: the engine scoring batches of 1,000 JSON records
(decode, bind, convert the columns, run the model, check and write each result), timed as
the best of a few 3-second runs. Set beside the model alone, it says what the service adds
to a model apart from the transport."""

from __future__ import annotations

import time
from typing import Any

import orjson

from service.serving.descriptor import ModelDescriptor
from service.settings import Settings

BATCH = 1000


async def engine_rate(
    descriptor: ModelDescriptor,
    rows: list[dict[str, Any]],
    settings: Settings | None = None,
    threads: int = 1,
    runs: int = 3,
) -> float:
    """Records/s of the engine on ``rows`` (for ``descriptor``'s dataType), loaded as the
    service loads it (``threads``: the model's intra-op threads)."""
    from service.control.loader import Loader
    from service.metrics import Metrics
    from service.routing.registry import Registry
    from service.scoring.engine import Engine
    from service.scoring.records import LocalRecord

    loaded = await Loader(settings or Settings(), intra_op_threads=threads).load(descriptor)
    registry = Registry()
    registry.install(descriptor, loaded.model, loaded.sha256, loaded.shape)
    engine = Engine(registry, Metrics(), None)
    data_type = descriptor.data_type
    records = [
        LocalRecord(orjson.dumps({"dataType": data_type, **row}), key=b"k", offset=i)
        for i, row in enumerate(rows)
    ]
    batches = [records[i : i + BATCH] for i in range(0, len(records) - BATCH + 1, BATCH)]
    try:
        for batch in batches[:3]:  # warm: JIT, allocations
            await engine.score_stream(batch)
        best = 0.0
        for _ in range(runs):
            done, i, started = 0, 0, time.perf_counter()
            while time.perf_counter() - started < 3.0:
                await engine.score_stream(batches[i % len(batches)])
                done, i = done + BATCH, i + 1
            best = max(best, done / (time.perf_counter() - started))
        return best
    finally:
        loaded.model.close()
