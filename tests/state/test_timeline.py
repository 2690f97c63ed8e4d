"""``/timeline`` typed: the samples a process keeps are written as the untyped part wrote them,
and several workers' timelines merge as the untyped merge merged them, byte for byte, over
what workers write; the one difference is for samples no worker writes (keys missing)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cluster.timeline import Timeline
from service.metrics import Metrics
from service.state.shapes import encode
from service.state.timeline import TimelineDocument, TimelineSample, merge_timelines
from tests.state import documents, legacy_timeline

# Batches between samples: (records, seconds) for each, sampled at the instant after them.
TRAFFIC = [([(10, 0.004), (10, 0.002)], 100.02), ([(5, 0.001)], 104.99), ([], 110.0)]


def timelines(offset: int) -> tuple[Timeline, legacy_timeline.Timeline]:
    """The typed part and the untyped one, each over counters fed the same batches."""
    typed, untyped = Metrics(), Metrics()
    new = Timeline(typed.totals, step_s=5.0, kept=4)
    old = legacy_timeline.Timeline(untyped.totals, step_s=5.0, kept=4)
    for batches, at in [(b, at + 15.0 * turn) for turn in range(2) for b, at in TRAFFIC]:
        for metrics in (typed, untyped):
            for records, seconds in batches:
                metrics.record_batch("rf", 1, "wine", records + offset, seconds)
            metrics.record_consumed("in", 3 + offset)
            metrics.record_dead_letter("no-model")
        new.sample(at + offset * 5.0)
        old.sample(at + offset * 5.0)
    return new, old


def test_a_process_writes_its_samples_as_the_untyped_part_wrote_them() -> None:
    new, old = timelines(0)
    written = orjson.dumps(encode(new.document()))
    assert written == orjson.dumps(old.document())
    assert len(orjson.loads(written)["samples"]) == 4  # kept=4 of 6
    assert TimelineDocument.model_validate_json(written) == new.document()


def test_workers_timelines_merge_as_the_untyped_merge_merged_them() -> None:
    """Each worker's answer as the supervisor reads it: its JSON, read back."""
    answers = [orjson.loads(orjson.dumps(encode(timelines(i)[0].document()))) for i in range(3)]
    typed = merge_timelines([TimelineDocument.model_validate(a) for a in answers])
    merged = orjson.dumps(encode(typed))
    assert merged == orjson.dumps(legacy_timeline.merge_timelines(answers))
    # Each kept its last four of six instants, a step after the one before: two are common.
    assert [s.t for s in typed.samples] == [120.0, 125.0]
    assert orjson.dumps(encode(merge_timelines([]))) == orjson.dumps(
        legacy_timeline.merge_timelines([])
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(documents.timeline(), min_size=1, max_size=4))
def test_any_workers_timelines_merge_as_the_untyped_merge_merged_them(
    parts: list[dict[str, Any]],
) -> None:
    typed = merge_timelines([TimelineDocument.model_validate(p) for p in parts])
    assert orjson.dumps(encode(typed)) == orjson.dumps(legacy_timeline.merge_timelines(parts))
    common = set.intersection(*({s["t"] for s in p["samples"]} for p in parts))
    assert [s.t for s in typed.samples] == sorted(common)
    for sample in typed.samples:
        at = [s for p in parts for s in p["samples"] if s["t"] == sample.t]
        assert sample.consumed == sum(s["consumed"] for s in at)
        assert sample.slowest_ms == max(s["slowestMs"] for s in at)


def test_a_sample_missing_keys_reads_them_as_zero() -> None:
    """No worker writes such a sample; the untyped merge wrote the integer 0 for a missing
    ``scoringMs`` and kept an integer ``t``, the typed one writes 0.0 and 10.0: equal
    numbers, other text."""
    parts = [{"stepS": 5.0, "samples": [{"t": 10, "scored": n}]} for n in (3, 4)]
    typed = encode(merge_timelines([TimelineDocument.model_validate(p) for p in parts]))
    untyped = legacy_timeline.merge_timelines(parts)
    assert typed == untyped and typed["samples"][0]["scored"] == 7
    assert typed["samples"][0]["scoringMs"] == 0.0 and untyped["samples"][0]["scoringMs"] == 0
    assert isinstance(typed["samples"][0]["t"], float)


def test_a_sample_is_on_the_step_and_takes_the_slowest_call_since_the_last() -> None:
    metrics = Metrics()
    metrics.record_batch("rf", 1, "wine", 10, 0.004)
    sample = TimelineSample.of(metrics.totals, 102.6, 5.0)
    assert (sample.t, sample.slowest_ms, sample.batched_records) == (105.0, 4.0, 10)
