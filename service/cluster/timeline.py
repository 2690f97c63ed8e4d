"""The last minutes of a process's totals, for the dashboard's charts (``GET /timeline``):
a sample every ``STEP_S`` seconds, on wall-clock boundaries (``t`` a multiple of the step) so
that the samples of a container's workers fall on the same instants and add up. Samples are
cumulative (the page takes differences: records per second, ms per batch), except
``slowestMs``, the slowest model call since the sample before."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from service.metrics import Totals

STEP_S = 5.0
KEPT = 180  # 15 minutes
SUMMED = ("consumed", "scored", "dlq", "batches", "batchedRecords", "scoringMs")


class Timeline:
    """A part with no clients: it samples the totals until stopped."""

    name = "timeline"

    def __init__(self, totals: Totals, step_s: float = STEP_S, kept: int = KEPT) -> None:
        self._totals = totals
        self._step_s = step_s
        self._samples: deque[dict[str, Any]] = deque(maxlen=kept)
        self._stopping = asyncio.Event()

    def document(self) -> dict[str, Any]:
        return {"stepS": self._step_s, "samples": list(self._samples)}

    def sample(self, at: float) -> None:
        totals = self._totals
        self._samples.append(
            {
                "t": round(at / self._step_s) * self._step_s,
                "consumed": totals.consumed,
                "scored": totals.scored,
                "dlq": totals.dlq,
                "batches": totals.batches,
                "batchedRecords": totals.batched_records,
                "scoringMs": round(totals.scoring_seconds * 1000.0, 3),
                "slowestMs": round(totals.slowest_since_sample * 1000.0, 3),
            }
        )
        totals.slowest_since_sample = 0.0

    async def start(self) -> None:
        pass

    async def run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            wait = self._step_s - (now % self._step_s)
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
            except TimeoutError:
                self.sample(time.time())

    async def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        pass


def merge_timelines(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several workers' timelines as one: the instants every one of them sampled, their
    counts summed and the slowest call the slowest of all."""
    if not parts:
        return {"stepS": STEP_S, "samples": []}
    by_t = [{s["t"]: s for s in part["samples"]} for part in parts]
    common = sorted(set.intersection(*(set(samples) for samples in by_t)))
    merged = []
    for t in common:
        row: dict[str, Any] = {"t": t}
        for key in SUMMED:
            row[key] = round(sum(samples[t].get(key, 0) for samples in by_t), 3)
        row["slowestMs"] = max(samples[t].get("slowestMs", 0.0) for samples in by_t)
        merged.append(row)
    return {"stepS": parts[0]["stepS"], "samples": merged}
