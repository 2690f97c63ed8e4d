"""cluster/merge.py as it was before service/state/merge.py typed it: pure functions over the
public JSON documents, kept verbatim as the oracle the typed merges are compared with (same
numbers, same keys, same order)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Doc = dict[str, Any]

SUMMED_STATS = ("consumed", "scored", "dlq", "batches", "batchedRecords")


def merge_stats(parts: Sequence[Doc]) -> Doc:
    """``/stats`` of several processes: counts summed, ``avgBatchSize`` from the summed
    records and batches, dead letters summed by reason, ``models`` and ``uptime`` the
    largest (every process serves the same models; the oldest has run longest)."""
    merged: Doc = {key: sum(int(p.get(key, 0)) for p in parts) for key in SUMMED_STATS}
    batches = merged["batches"]
    merged["avgBatchSize"] = round(merged["batchedRecords"] / batches, 2) if batches else 0.0
    merged["scoringMs"] = round(sum(float(p.get("scoringMs", 0.0)) for p in parts), 3)
    merged["deadLetters"] = _sum_maps(p.get("deadLetters", {}) for p in parts)
    merged["models"] = max((int(p.get("models", 0)) for p in parts), default=0)
    merged["uptime"] = max((float(p.get("uptime", 0.0)) for p in parts), default=0.0)
    return merged


def merge_states(parts: Sequence[Doc]) -> Doc | None:
    """``/state/{dataType}`` of several processes. The figures of parts serving the same model
    and version as the most recent one are merged; a part still on another version (a swap
    under way) is left out of the sums and named in ``otherVersions``."""
    if not parts:
        return None
    newest = max(parts, key=lambda p: (instant(p.get("since")), int(p.get("version") or 0)))
    same = [p for p in parts if (p["name"], p["version"]) == (newest["name"], newest["version"])]
    others = [p for p in parts if p not in same]
    merged = {
        key: newest.get(key) for key in ("name", "description", "modelType", "version", "since")
    }
    merged["since"] = min((p.get("since") for p in same), key=instant)
    merged.update(_timed(same, "usage"))
    routes = [p["route"] for p in same if p.get("route")]
    try:
        merged["route"] = merge_route_states(routes)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a foreign writer's
        log.warning("route stats not mergeable: %r", exc)
        merged["route"] = {"mode": routes[0].get("mode"), "error": "not mergeable"}
    if others:
        merged["otherVersions"] = [{"name": p["name"], "version": p["version"]} for p in others]
    return merged


def merge_route_states(parts: Sequence[Doc]) -> Doc | None:
    """The ``route`` part of ``/state``: every mode's counters summed, its latencies and
    agreements recomputed. Parts in another mode than the first (a route change under way)
    are left out."""
    if not parts:
        return None
    mode = parts[0]["mode"]
    same = [p for p in parts if p["mode"] == mode]
    merged: Doc = {"mode": mode, "models": _merge_members(p.get("models", {}) for p in same)}
    if any(p.get("since") for p in same):
        merged["since"] = min((p["since"] for p in same if p.get("since")), key=instant)
    if mode == "shadow":
        merged["primaryLatency"] = merge_latency([p["primaryLatency"] for p in same])
        merged["shadows"] = _by_name(same, "shadows", _merge_shadow)
    elif mode in ("canary", "ensemble"):
        merged["usage"] = sum(int(p.get("usage", 0)) for p in same)
        merged["latency"] = merge_latency([p["latency"] for p in same if "latency" in p])
        merged["members"] = _merge_shares(p.get("members", {}) for p in same)
    elif mode == "speculative":
        merged.update({k: same[0].get(k) for k in ("decider", "deadline")})
        merged["usage"] = sum(int(p.get("usage", 0)) for p in same)
        merged.update(_timed(same, "batches"))
        merged.pop("avg", None)  # Lightbend's speculative stats have none
        merged["candidates"] = _by_name(same, "candidates", _sum_maps)
    return merged


def merge_latency(parts: Sequence[Doc]) -> Doc:
    """Latencies (``avgPerRecord``, ``avgPerBatch``, ``maxPerBatch``) recomputed from the
    records, batches and total time each part timed."""
    records = sum(int(p.get("records", 0)) for p in parts)
    batches = sum(int(p.get("batches", 0)) for p in parts)
    total = round(sum(float(p.get("totalMs", 0.0)) for p in parts), 3)
    return {
        "avgPerRecord": round(total / records, 4) if records else 0.0,
        "avgPerBatch": round(total / batches, 3) if batches else 0.0,
        "maxPerBatch": max((float(p.get("maxPerBatch", 0.0)) for p in parts), default=0.0),
        "records": records,
        "batches": batches,
        "totalMs": total,
    }


def instant(at: object) -> datetime:
    """An ISO time of a document, for ordering (unreadable or missing: the earliest)."""
    try:
        parsed = datetime.fromisoformat(str(at))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _timed(parts: Sequence[Doc], count: str) -> Doc:
    """Lightbend's ``count``/duration/min/max: counts and durations summed, the least minimum
    and the greatest maximum of the parts that timed something, the average per ``count``
    recomputed."""
    used = [p for p in parts if int(p.get(count, 0)) > 0]
    counted = sum(int(p.get(count, 0)) for p in parts)
    duration = round(sum(float(p.get("duration", 0.0)) for p in parts), 3)
    return {
        count: counted,
        "duration": duration,
        "min": min((float(p["min"]) for p in used), default=0.0),
        "max": max((float(p["max"]) for p in used), default=0.0),
        "avg": round(duration / counted, 3) if counted else 0.0,
    }


def _merge_members(parts: Iterable[Doc]) -> Doc:
    """Each route member's serving stats (``version, usage, duration, avg``)."""
    merged: Doc = {}
    for members in parts:
        for name, stats in members.items():
            into = merged.setdefault(name, {"version": stats["version"], "usage": 0, "duration": 0})
            into["version"] = max(int(into["version"]), int(stats["version"]))
            into["usage"] += int(stats.get("usage", 0))
            into["duration"] = round(into["duration"] + float(stats.get("duration", 0.0)), 3)
    for stats in merged.values():
        stats["avg"] = round(stats["duration"] / stats["usage"], 4) if stats["usage"] else 0.0
    return merged


def _merge_shadow(parts: Sequence[Doc]) -> Doc:
    compared = [int(p["agreement"].get("compared", 0)) for p in parts]
    agreement = {
        "measure": parts[0]["agreement"]["measure"],
        "sinceStart": _weighted([p["agreement"].get("sinceStart") for p in parts], compared),
        # Each part's last10000 covers min(compared, 10,000) records of its own.
        "last10000": _weighted(
            [p["agreement"].get("last10000") for p in parts], [min(c, 10_000) for c in compared]
        ),
        "compared": sum(compared),
    }
    counts = _sum_maps([{k: p.get(k, 0) for k in ("errors", "timeouts", "skipped")} for p in parts])
    return {
        "agreement": agreement,
        **counts,
        "latency": merge_latency([p["latency"] for p in parts]),
    }


def _merge_shares(parts: Iterable[Doc]) -> Doc:
    records = _sum_maps({n: m.get("records", 0) for n, m in members.items()} for members in parts)
    total = sum(records.values())
    return {
        name: {"records": count, "share": round(count / total, 6) if total else 0.0}
        for name, count in records.items()
    }


def _by_name(parts: Sequence[Doc], key: str, merge: Callable[[list[Doc]], Doc]) -> Doc:
    names = list(dict.fromkeys(name for p in parts for name in p.get(key, {})))
    return {name: merge([p[key][name] for p in parts if name in p.get(key, {})]) for name in names}


def _sum_maps(parts: Iterable[Doc]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            merged[key] = merged.get(key, 0) + int(value)
    return merged


def _weighted(values: Sequence[float | None], weights: Sequence[int]) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 6) if total else None
