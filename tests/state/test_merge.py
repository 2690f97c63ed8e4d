"""Merging several processes' figures: sums where they add up, extremes where they do not,
averages recomputed from the sums, never averaged. The parts are the JSON documents processes
publish, read into their types as the cluster view and the supervisor read them; what is
checked is the merged document as written."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.state.merge import merge_states, merge_stats
from service.state.process import ProcessStats
from service.state.serving import ServingState
from service.state.shapes import encode
from tests.state import documents, legacy_merge


def stats(consumed: int, batches: int, batched: int, **dead: int) -> ProcessStats:
    return ProcessStats.model_validate(stats_doc(consumed, batches, batched, **dead))


def stats_doc(consumed: int, batches: int, batched: int, **dead: int) -> dict[str, Any]:
    return {
        "consumed": consumed,
        "scored": consumed - sum(dead.values()),
        "dlq": sum(dead.values()),
        "batches": batches,
        "batchedRecords": batched,
        "avgBatchSize": round(batched / batches, 2) if batches else 0.0,
        "deadLetters": {k.replace("_", "-"): v for k, v in dead.items()},
        "models": 2,
        "uptime": 10.0 + consumed,
    }


def test_stats_add_up_and_the_average_batch_comes_from_the_sums() -> None:
    merged = encode(
        merge_stats([stats(100, 3, 100, no_model=2), stats(50, 7, 50, no_model=1, decode=4)])
    )
    assert merged["consumed"] == 150 and merged["scored"] == 143 and merged["dlq"] == 7
    assert merged["batches"] == 10 and merged["batchedRecords"] == 150
    # Not the mean of 33.33 and 7.14:
    assert merged["avgBatchSize"] == 15.0
    assert merged["deadLetters"] == {"no-model": 3, "decode": 4}
    assert merged["models"] == 2 and merged["uptime"] == 110.0
    assert encode(merge_stats([]))["avgBatchSize"] == 0.0


def state(
    version: int, usage: int, duration: float, low: float, high: float, **kw: Any
) -> ServingState:
    return ServingState.model_validate(state_doc(version, usage, duration, low, high, **kw))


def state_doc(
    version: int, usage: int, duration: float, low: float, high: float, **kw: Any
) -> dict[str, Any]:
    return {
        "name": "rf",
        "description": "",
        "modelType": "ONNX",
        "version": version,
        "since": kw.get("since", "2026-11-21T10:00:00+00:00"),
        "usage": usage,
        "duration": duration,
        "min": low,
        "max": high,
        "avg": round(duration / usage, 3) if usage else 0.0,
        "route": kw.get("route"),
    }


def test_states_sum_usage_and_duration_and_keep_the_extremes() -> None:
    found = merge_states([state(2, 300, 30.0, 0.05, 0.4), state(2, 100, 20.0, 0.02, 0.9)])
    assert found is not None
    merged = encode(found)
    assert (merged["usage"], merged["duration"], merged["min"], merged["max"]) == (
        400,
        50.0,
        0.02,
        0.9,
    )
    assert merged["avg"] == 0.125  # 50 / 400, not the mean of 0.1 and 0.2


def test_an_idle_process_does_not_bring_its_zero_minimum() -> None:
    merged = merge_states([state(2, 300, 30.0, 0.05, 0.4), state(2, 0, 0.0, 0.0, 0.0)])
    assert merged is not None and merged.min == 0.05 and merged.usage == 300


def test_a_process_still_on_the_old_version_is_named_not_summed() -> None:
    old = state(1, 500, 10.0, 0.01, 0.1, since="2026-11-21T09:00:00+00:00")
    new = state(2, 100, 20.0, 0.02, 0.9, since="2026-11-21T10:00:00+00:00")
    found = merge_states([old, new])
    assert found is not None
    merged = encode(found)
    assert (merged["version"], merged["usage"]) == (2, 100)
    assert merged["otherVersions"] == [{"name": "rf", "version": 1}]
    assert merge_states([]) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(documents.process_stats(), min_size=1, max_size=5))
def test_merged_stats_are_the_sums_of_the_parts_as_the_untyped_merge_wrote_them(
    parts: list[dict[str, Any]],
) -> None:
    merged = encode(merge_stats([ProcessStats.model_validate(p) for p in parts]))
    assert orjson.dumps(merged) == orjson.dumps(legacy_merge.merge_stats(parts))
    for key in ("consumed", "scored", "dlq", "batches", "batchedRecords"):
        assert merged[key] == sum(p[key] for p in parts), key
    batches, batched = merged["batches"], merged["batchedRecords"]
    assert merged["avgBatchSize"] == (round(batched / batches, 2) if batches else 0.0)
    assert merged["scoringMs"] == round(sum(p["scoringMs"] for p in parts), 3)
    dead: Counter[str] = Counter()
    for part in parts:
        dead.update(part["deadLetters"])
    assert merged["deadLetters"] == dict(dead)
    assert merged["models"] == max(p["models"] for p in parts)


def test_no_parts_merge_to_zeros() -> None:
    """The one textual difference from the untyped merge: its ``scoringMs`` of no parts was
    the integer 0 (a sum of nothing); typed, it is 0.0 like every other duration."""
    assert encode(merge_stats([])) == legacy_merge.merge_stats([])
    assert encode(merge_stats([]))["scoringMs"] == 0.0


@settings(max_examples=100, deadline=None)
@given(documents.serving_states())
def test_merged_states_are_the_sums_of_the_newest_version_as_the_untyped_merge_wrote_them(
    parts: list[dict[str, Any]],
) -> None:
    found = merge_states([ServingState.model_validate(p) for p in parts])
    assert found is not None
    merged = encode(found)
    assert orjson.dumps(merged) == orjson.dumps(legacy_merge.merge_states(parts))
    shown = (merged["name"], merged["version"])
    same = [p for p in parts if (p["name"], p["version"]) == shown]
    used = [p for p in same if p["usage"] > 0]
    assert merged["usage"] == sum(p["usage"] for p in same)
    assert merged["duration"] == round(sum(p["duration"] for p in same), 3)
    assert merged["min"] == min((p["min"] for p in used), default=0.0)
    assert merged["max"] == max((p["max"] for p in used), default=0.0)
    others = [{"name": p["name"], "version": p["version"]} for p in parts if p not in same]
    assert merged.get("otherVersions") == (others or None)
