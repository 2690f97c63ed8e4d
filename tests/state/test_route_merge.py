"""Merging several processes' route states: counters summed, latencies recomputed from their
totals, a shadow's agreement weighted by the records each compared, shares from the summed
records. The parts are the JSON documents processes publish, read into their types."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from service.state.route_merge import merge_latency, merge_route_states
from service.state.routes import Latency, RouteState
from service.state.shapes import encode
from service.state.sums import instant
from tests.state import documents, legacy_merge

ROUTE: TypeAdapter[RouteState] = TypeAdapter(RouteState)


def merged_route(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    merged = merge_route_states([ROUTE.validate_python(p) for p in parts])
    return encode(merged) if merged is not None else None


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
    parts = [latency(100, 2, 10.0, 7.0), latency(300, 8, 30.0, 4.0)]
    merged = encode(merge_latency([Latency.model_validate(p) for p in parts]))
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
    merged = merged_route([shadow(30_000, 0.9, 0.8, 1), shadow(10_000, 0.5, 0.4, 2)])
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

    merged = merged_route([canary(90, 10), canary(0, 100)])
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

    merged = merged_route([speculative(3, 9.0, 1.0, 4.0), speculative(1, 1.0, 0.5, 1.0)])
    assert merged is not None
    assert (merged["usage"], merged["batches"], merged["duration"]) == (40, 4, 10.0)
    assert (merged["min"], merged["max"], merged["decider"]) == (0.5, 4.0, "first-listed")
    assert merged["candidates"] == {"fast": {"wins": 40, "timeouts": 2}}


@settings(max_examples=150, deadline=None)
@given(st.lists(documents.modes.flatmap(documents.route), min_size=1, max_size=4))
def test_route_states_merge_as_the_untyped_merge_wrote_them(parts: list[dict[str, Any]]) -> None:
    """Any modes, a route change under way included (the first part's mode is merged), and a
    mode only a newer writer knows."""
    assert orjson.dumps(merged_route(parts)) == orjson.dumps(legacy_merge.merge_route_states(parts))


@settings(max_examples=100, deadline=None)
@given(documents.modes.flatmap(lambda m: st.lists(documents.route(m), min_size=1, max_size=4)))
def test_merged_routes_are_the_sums_a_user_computes_from_the_parts(
    parts: list[dict[str, Any]],
) -> None:
    merged = merged_route(parts)
    assert merged is not None and merged["mode"] == parts[0]["mode"]
    usage: Counter[str] = Counter()
    for part in parts:
        usage.update({name: m["usage"] for name, m in part["models"].items()})
    assert {name: m["usage"] for name, m in merged["models"].items()} == dict(usage)
    assert merged["since"] == min((p["since"] for p in parts), key=instant)
    if "shadows" in merged:
        for name, shadow in merged["shadows"].items():
            mine = [p["shadows"][name] for p in parts if name in p["shadows"]]
            compared = sum(s["agreement"]["compared"] for s in mine)
            assert shadow["agreement"]["compared"] == compared
            assert shadow["errors"] == sum(s["errors"] for s in mine)
            assert shadow["latency"]["records"] == sum(s["latency"]["records"] for s in mine)
    if "members" in merged:
        records: Counter[str] = Counter()
        for part in parts:
            records.update({name: m["records"] for name, m in part["members"].items()})
        assert {n: m["records"] for n, m in merged["members"].items()} == dict(records)
        if sum(records.values()):
            # Each share is rounded to 6 places.
            shares = sum(m["share"] for m in merged["members"].values())
            assert shares == pytest.approx(1.0, abs=1e-5)
        assert merged["usage"] == sum(p["usage"] for p in parts)
    if "candidates" in merged:
        assert merged["batches"] == sum(p["batches"] for p in parts)
        for name, candidate in merged["candidates"].items():
            wins = sum(p["candidates"][name]["wins"] for p in parts if name in p["candidates"])
            assert candidate["wins"] == wins
