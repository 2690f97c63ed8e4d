"""``GET /timeline``, typed: the last minutes of a process's totals as the dashboard charts them
(cluster/timeline.py takes the samples), and a container's workers' timelines as one. The
samples fall on wall-clock multiples of the step, so that several workers' samples meet on the
same instants and add up; they are cumulative (the page takes differences), but for
``slowestMs``, the slowest model call since the sample before."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from service.metrics import Totals
from service.state.shapes import Count, Shape

STEP_S = 5.0


class TimelineSample(Shape):
    """The totals at ``t`` (seconds since the epoch, a multiple of the step). A count missing
    from a worker's sample reads as zero, as the untyped merge read it."""

    t: float
    consumed: Count = 0
    scored: Count = 0
    dlq: Count = 0
    batches: Count = 0
    batched_records: Count = Field(0, alias="batchedRecords")
    scoring_ms: float = Field(0.0, alias="scoringMs")
    slowest_ms: float = Field(0.0, alias="slowestMs")

    @classmethod
    def of(cls, totals: Totals, at: float, step_s: float) -> TimelineSample:
        """The totals now, at the step boundary nearest ``at``."""
        return cls(
            t=round(at / step_s) * step_s,
            consumed=totals.consumed,
            scored=totals.scored,
            dlq=totals.dlq,
            batches=totals.batches,
            batched_records=totals.batched_records,
            scoring_ms=round(totals.scoring_seconds * 1000.0, 3),
            slowest_ms=round(totals.slowest_since_sample * 1000.0, 3),
        )


class TimelineDocument(Shape):
    """The samples kept, oldest first, and the step between them."""

    step_s: float = Field(alias="stepS")
    samples: list[TimelineSample]


def merge_timelines(parts: Sequence[TimelineDocument]) -> TimelineDocument:
    """Several workers' timelines as one: the instants every one of them sampled, their counts
    summed and the slowest call the slowest of all. An instant some worker missed (it was
    restarting) is left out rather than shown short of that worker's counts."""
    if not parts:
        return TimelineDocument(step_s=STEP_S, samples=[])
    by_t = [{sample.t: sample for sample in part.samples} for part in parts]
    common = sorted(set.intersection(*(set(samples) for samples in by_t)))
    return TimelineDocument(
        step_s=parts[0].step_s,
        samples=[_sum([samples[t] for samples in by_t]) for t in common],
    )


def _sum(samples: Sequence[TimelineSample]) -> TimelineSample:
    return TimelineSample(
        t=samples[0].t,
        consumed=sum(s.consumed for s in samples),
        scored=sum(s.scored for s in samples),
        dlq=sum(s.dlq for s in samples),
        batches=sum(s.batches for s in samples),
        batched_records=sum(s.batched_records for s in samples),
        scoring_ms=round(sum(s.scoring_ms for s in samples), 3),
        slowest_ms=max(s.slowest_ms for s in samples),
    )
