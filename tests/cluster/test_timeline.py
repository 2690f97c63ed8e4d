"""The timeline samples on wall-clock boundaries, and workers' timelines add up on the
instants all of them sampled."""

from __future__ import annotations

from service.cluster.timeline import Timeline
from service.metrics import Metrics
from service.state.shapes import encode
from service.state.timeline import TimelineDocument, merge_timelines


def test_samples_are_cumulative_and_the_slowest_call_is_per_step() -> None:
    metrics = Metrics()
    timeline = Timeline(metrics.totals, step_s=5.0, kept=2)
    metrics.record_batch("rf", 1, "wine", 10, 0.004)
    metrics.record_batch("rf", 1, "wine", 10, 0.002)
    timeline.sample(100.02)
    metrics.record_batch("rf", 1, "wine", 5, 0.001)
    timeline.sample(104.99)
    timeline.sample(110.0)
    samples = encode(timeline.document())["samples"]
    assert [s["t"] for s in samples] == [105.0, 110.0]  # the oldest dropped, kept=2
    assert samples[0]["batches"] == 3 and samples[0]["scoringMs"] == 7.0
    assert samples[0]["slowestMs"] == 1.0 and samples[1]["slowestMs"] == 0.0


def test_merged_timelines_keep_the_common_instants() -> None:
    def part(rows: list[tuple[float, int, float]]) -> dict[str, object]:
        return {
            "stepS": 5.0,
            "samples": [{"t": t, "scored": n, "slowestMs": slow} for t, n, slow in rows],
        }

    parts = [part([(5, 1, 2.0), (10, 3, 1.0)]), part([(10, 4, 5.0), (15, 6, 0)])]
    merged = encode(merge_timelines([TimelineDocument.model_validate(p) for p in parts]))
    assert merged["samples"] == [
        {
            "t": 10,
            "consumed": 0,
            "scored": 7,
            "dlq": 0,
            "batches": 0,
            "batchedRecords": 0,
            "scoringMs": 0,
            "slowestMs": 5.0,
        }
    ]
    assert encode(merge_timelines([]))["samples"] == []
