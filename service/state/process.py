"""A process's totals: ``GET /stats`` (ProcessStats) and what each model version scored
(ModelScored), read from the counters the scoring loop keeps anyway (metrics.Totals)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import Field

from service.metrics import Totals
from service.state.shapes import Count, Shape


class ProcessStats(Shape):
    """Typed, so that a record from a foreign or broken writer is refused when read, rather
    than breaking every replica's view."""

    consumed: Count = 0
    scored: Count = 0
    dlq: Count = 0
    batches: Count = 0
    batched_records: Count = Field(0, alias="batchedRecords")
    avg_batch_size: float = Field(0.0, alias="avgBatchSize")
    scoring_ms: float = Field(0.0, alias="scoringMs")
    dead_letters: dict[str, Count] = Field(default_factory=dict, alias="deadLetters")
    models: Count = 0
    uptime: float = 0.0


class ModelScored(Shape):
    """What one version of a model scored in this process since it started."""

    name: str
    version: int
    data_type: str = Field(alias="dataType")
    records: Count
    batches: Count
    scoring_ms: float = Field(alias="scoringMs")


def process_stats(
    totals: Totals, models: int, clock: Callable[[], float] = time.monotonic
) -> ProcessStats:
    """``models``: the models loaded (answering or standing by)."""
    return ProcessStats(
        consumed=totals.consumed,
        scored=totals.scored,
        dlq=totals.dlq,
        batches=totals.batches,
        batched_records=totals.batched_records,
        avg_batch_size=round(totals.batched_records / totals.batches, 2) if totals.batches else 0.0,
        scoring_ms=round(totals.scoring_seconds * 1000.0, 3),
        dead_letters=dict(sorted(totals.dead_letters.items())),
        models=models,
        uptime=round(clock() - totals.started, 3),
    )


def models_scored(totals: Totals) -> list[ModelScored]:
    """Per model and version, in that order (the newest versions of each name: metrics.py)."""
    return [
        ModelScored(
            name=name,
            version=version,
            data_type=count.data_type,
            records=count.records,
            batches=count.batches,
            scoring_ms=round(count.seconds * 1000.0, 3),
        )
        for (name, version), count in sorted(totals.by_model.items())
    ]
