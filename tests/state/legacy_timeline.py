"""cluster/timeline.py's documents as they were before state/timeline.py typed them: the
samples the part kept and wrote (``Timeline.sample``, ``Timeline.document``) and
``merge_timelines``, verbatim but for the part's loop: the oracle the typed timeline is
compared with, byte for byte."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from service.metrics import Totals

STEP_S = 5.0
KEPT = 180  # 15 minutes
SUMMED = ("consumed", "scored", "dlq", "batches", "batchedRecords", "scoringMs")


class Timeline:
    """The part as it was, but for its loop: what it kept and how it wrote it."""

    def __init__(self, totals: Totals, step_s: float = STEP_S, kept: int = KEPT) -> None:
        self._totals = totals
        self._step_s = step_s
        self._samples: deque[dict[str, Any]] = deque(maxlen=kept)

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
