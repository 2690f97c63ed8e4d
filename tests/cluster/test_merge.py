"""Merging several processes' figures: sums where they add up, extremes where they do not,
averages and agreements recomputed from the sums, never averaged."""

from __future__ import annotations

from typing import Any

import pytest

from service.cluster.merge import merge_latency, merge_route_states, merge_states, merge_stats


def stats(consumed: int, batches: int, batched: int, **dead: int) -> dict[str, Any]:
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
    merged = merge_stats([stats(100, 3, 100, no_model=2), stats(50, 7, 50, no_model=1, decode=4)])
    assert merged["consumed"] == 150 and merged["scored"] == 143 and merged["dlq"] == 7
    assert merged["batches"] == 10 and merged["batchedRecords"] == 150
    # Not the mean of 33.33 and 7.14:
    assert merged["avgBatchSize"] == 15.0
    assert merged["deadLetters"] == {"no-model": 3, "decode": 4}
    assert merged["models"] == 2 and merged["uptime"] == 110.0
    assert merge_stats([])["avgBatchSize"] == 0.0


def state(version: int, usage: int, duration: float, low: float, high: float, **kw: Any) -> Any:
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
    merged = merge_states([state(2, 300, 30.0, 0.05, 0.4), state(2, 100, 20.0, 0.02, 0.9)])
    assert merged is not None
    assert (merged["usage"], merged["duration"], merged["min"], merged["max"]) == (
        400,
        50.0,
        0.02,
        0.9,
    )
    assert merged["avg"] == 0.125  # 50 / 400, not the mean of 0.1 and 0.2


def test_an_idle_process_does_not_bring_its_zero_minimum() -> None:
    merged = merge_states([state(2, 300, 30.0, 0.05, 0.4), state(2, 0, 0.0, 0.0, 0.0)])
    assert merged is not None and merged["min"] == 0.05 and merged["usage"] == 300


def test_a_process_still_on_the_old_version_is_named_not_summed() -> None:
    old = state(1, 500, 10.0, 0.01, 0.1, since="2026-11-21T09:00:00+00:00")
    new = state(2, 100, 20.0, 0.02, 0.9, since="2026-11-21T10:00:00+00:00")
    merged = merge_states([old, new])
    assert merged is not None
    assert (merged["version"], merged["usage"]) == (2, 100)
    assert merged["otherVersions"] == [{"name": "rf", "version": 1}]
    assert merge_states([]) is None


def latency(records: int, batches: int, total: float, slowest: float) -> dict[str, Any]:
    return {
        "avgPerRecord": round(total / records, 4),
        "avgPerBatch": round(total / batches, 3),
        "maxPerBatch": slowest,
        "records": records,
        "batches": batches,
        "totalMs": total,
    }


def test_latencies_are_recomputed_from_their_totals() -> None:
    merged = merge_latency([latency(100, 2, 10.0, 7.0), latency(300, 8, 30.0, 4.0)])
    assert merged == {
        "avgPerRecord": 0.1,
        "avgPerBatch": 4.0,
        "maxPerBatch": 7.0,
        "records": 400,
        "batches": 10,
        "totalMs": 40.0,
    }


def shadow(compared: int, since: float, recent: float, errors: int) -> dict[str, Any]:
    return {
        "mode": "shadow",
        "models": {"rf": {"version": 1, "usage": compared, "duration": 1.0, "avg": 0.0}},
        "since": "2026-11-21T10:00:00+00:00",
        "primaryLatency": latency(compared, 1, 5.0, 5.0),
        "shadows": {
            "lr": {
                "agreement": {
                    "measure": "labelAgreement",
                    "sinceStart": since,
                    "last10000": recent,
                    "compared": compared,
                },
                "errors": errors,
                "timeouts": 0,
                "skipped": 1,
                "latency": latency(compared, 1, 2.0, 2.0),
            }
        },
    }


def test_shadow_agreement_is_weighted_by_the_records_each_compared() -> None:
    merged = merge_route_states([shadow(30_000, 0.9, 0.8, 1), shadow(10_000, 0.5, 0.4, 2)])
    assert merged is not None
    lr = merged["shadows"]["lr"]
    assert lr["agreement"]["compared"] == 40_000
    assert lr["agreement"]["sinceStart"] == pytest.approx(0.8)  # (0.9*3 + 0.5*1) / 4
    # Each last10000 stands for 10,000 records: the plain mean here.
    assert lr["agreement"]["last10000"] == pytest.approx(0.6)
    assert (lr["errors"], lr["skipped"]) == (3, 2)
    assert merged["models"]["rf"]["usage"] == 40_000


def test_canary_shares_come_from_the_summed_records() -> None:
    def canary(a: int, b: int) -> dict[str, Any]:
        return {
            "mode": "canary",
            "models": {},
            "usage": a + b,
            "latency": latency(a + b, 1, 1.0, 1.0),
            "members": {"a": {"records": a, "share": 0.0}, "b": {"records": b, "share": 0.0}},
        }

    merged = merge_route_states([canary(90, 10), canary(0, 100)])
    assert merged is not None
    assert merged["usage"] == 200
    assert merged["members"] == {
        "a": {"records": 90, "share": 0.45},
        "b": {"records": 110, "share": 0.55},
    }


def test_speculative_stats_follow_lightbend_summed() -> None:
    def speculative(batches: int, duration: float, low: float, high: float) -> dict[str, Any]:
        return {
            "mode": "speculative",
            "models": {},
            "decider": "first-listed",
            "deadline": 5,
            "usage": batches * 10,
            "batches": batches,
            "duration": duration,
            "min": low,
            "max": high,
            "candidates": {"fast": {"wins": batches * 10, "timeouts": 1}},
        }

    merged = merge_route_states([speculative(3, 9.0, 1.0, 4.0), speculative(1, 1.0, 0.5, 1.0)])
    assert merged is not None
    assert (merged["usage"], merged["batches"], merged["duration"]) == (40, 4, 10.0)
    assert (merged["min"], merged["max"], merged["decider"]) == (0.5, 4.0, "first-listed")
    assert merged["candidates"] == {"fast": {"wins": 40, "timeouts": 2}}
