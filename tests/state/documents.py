"""Hypothesis strategies for the documents processes publish and the merges read: ``/stats``,
and ``/state/{dataType}`` with a route of any mode, shaped as the writer writes them (every
key, times in ms rounded as it rounds them), with the figures free."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

counts = st.integers(0, 10**6)
ms = st.floats(0, 10**4, allow_nan=False).map(lambda v: round(v, 3))
ratios = st.none() | st.floats(0, 1).map(lambda v: round(v, 6))
names = st.sampled_from(["rf", "lr", "gb"])
times = st.sampled_from(
    [
        "2026-11-21T09:00:00Z",
        "2026-11-21T10:00:00.250000Z",
        "2026-11-21T10:00:00+02:00",
        "not a time",
    ]
)


@st.composite
def process_stats(draw: st.DrawFn) -> dict[str, Any]:
    batches, batched = draw(counts), draw(counts)
    dead = draw(st.dictionaries(st.sampled_from(["no-model", "decode", "invalid-record"]), counts))
    return {
        "consumed": draw(counts),
        "scored": draw(counts),
        "dlq": sum(dead.values()),
        "batches": batches,
        "batchedRecords": batched,
        "avgBatchSize": round(batched / batches, 2) if batches else 0.0,
        "scoringMs": draw(ms),
        "deadLetters": dict(sorted(dead.items())),
        "models": draw(st.integers(0, 20)),
        "uptime": draw(ms),
    }


@st.composite
def latency(draw: st.DrawFn) -> dict[str, Any]:
    records, batches, total = draw(counts), draw(counts), draw(ms)
    return {
        "avgPerRecord": round(total / records, 4) if records else 0.0,
        "avgPerBatch": round(total / batches, 3) if batches else 0.0,
        "maxPerBatch": draw(ms),
        "records": records,
        "batches": batches,
        "totalMs": total,
    }


def by_name(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(names, values, max_size=3)


@st.composite
def member(draw: st.DrawFn) -> dict[str, Any]:
    usage, duration = draw(counts), draw(ms)
    return {
        "version": draw(st.integers(1, 3)),
        "usage": usage,
        "duration": duration,
        "avg": round(duration / usage, 4) if usage else 0.0,
    }


@st.composite
def shadow(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "agreement": {
            "measure": draw(st.sampled_from(["labelAgreement", "meanAbsoluteDifference"])),
            "sinceStart": draw(ratios),
            "last10000": draw(ratios),
            "compared": draw(counts),
        },
        "errors": draw(counts),
        "timeouts": draw(counts),
        "skipped": draw(counts),
        "latency": draw(latency()),
    }


share = st.builds(lambda r, s: {"records": r, "share": s}, counts, st.floats(0, 1))
candidate = st.builds(lambda w, t: {"wins": w, "timeouts": t}, counts, counts)


@st.composite
def route(draw: st.DrawFn, mode: str) -> dict[str, Any]:
    head = {"mode": mode, "models": draw(by_name(member())), "since": draw(times)}
    if mode == "shadow":
        return {**head, "primaryLatency": draw(latency()), "shadows": draw(by_name(shadow()))}
    if mode in ("canary", "ensemble"):
        return {
            **head,
            "usage": draw(counts),
            "latency": draw(latency()),
            "members": draw(by_name(share)),
        }
    if mode == "speculative":
        return {
            **head,
            "decider": draw(st.sampled_from(["first-listed", "most-confident"])),
            "deadline": draw(st.integers(1, 10_000)),
            "usage": draw(counts),
            "batches": draw(counts),
            "duration": draw(ms),
            "min": draw(ms),
            "max": draw(ms),
            "candidates": draw(by_name(candidate)),
        }
    return head  # a mode from a newer writer


modes = st.sampled_from(["shadow", "canary", "ensemble", "speculative", "mirror"])


@st.composite
def serving_state(draw: st.DrawFn, mode: str | None) -> dict[str, Any]:
    usage, duration = draw(counts), draw(ms)
    return {
        "name": draw(st.sampled_from(["rf", "rf", "lr"])),
        "description": draw(st.sampled_from(["", "a forest"])),
        "modelType": "ONNX",
        "version": draw(st.integers(1, 2)),
        "since": draw(times),
        "usage": usage,
        "duration": duration,
        "min": draw(ms),
        "max": draw(ms),
        "avg": round(duration / usage, 3) if usage else 0.0,
        "route": None if mode is None else draw(route(mode)),
    }


@st.composite
def serving_states(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A dataType's ``/state`` in several processes: mostly the same route mode, now and then
    one on another (a route change under way)."""
    mode = draw(st.none() | modes)
    size = draw(st.integers(1, 4))
    return [draw(serving_state(draw(st.just(mode) | st.none() | modes))) for _ in range(size)]


@st.composite
def timeline(draw: st.DrawFn) -> dict[str, Any]:
    """A worker's ``/timeline``: samples on multiples of the step, some instants missed (a
    restart), counts cumulative."""
    instants = draw(st.lists(st.integers(1, 12), max_size=8, unique=True))
    consumed = 0
    samples = []
    for step in sorted(instants):
        consumed += draw(counts)
        samples.append(
            {
                "t": step * 5.0,
                "consumed": consumed,
                "scored": draw(counts),
                "dlq": draw(counts),
                "batches": draw(counts),
                "batchedRecords": draw(counts),
                "scoringMs": draw(ms),
                "slowestMs": draw(ms),
            }
        )
    return {"stepS": 5.0, "samples": samples}
