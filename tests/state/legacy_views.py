"""The dict views of the queryable state as they were before service/state/ typed them
(http/views.py, http/route_views.py's ``route_state``, routing/route_stats.py's ``as_dict``,
history.py's ``history_entry`` and metrics.py's ``Totals.as_dict``), kept verbatim but for
being functions here: the oracle the typed documents are compared with, byte for byte, so
that typing them changed no JSON a client or the dashboard reads."""

from __future__ import annotations

import time
from typing import Any

import orjson

from service.clock import iso
from service.metrics import Totals
from service.routing.history import IN_SERVICE, VersionRecord
from service.routing.registry import Registry
from service.routing.route_stats import (
    Latency,
    RouteStats,
    ShadowMember,
    ShadowStats,
    SpeculativeStats,
    SplitStats,
)
from service.serving.model import ServingModel


def totals_dict(totals: Totals, models: int) -> dict[str, object]:
    return {
        "consumed": totals.consumed,
        "scored": totals.scored,
        "dlq": totals.dlq,
        "batches": totals.batches,
        "batchedRecords": totals.batched_records,
        "avgBatchSize": round(totals.batched_records / totals.batches, 2)
        if totals.batches
        else 0.0,
        "scoringMs": round(totals.scoring_seconds * 1000.0, 3),
        "deadLetters": dict(sorted(totals.dead_letters.items())),
        "models": models,
        "uptime": round(time.monotonic() - totals.started, 3),
    }


def history_entry(record: VersionRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "status": record.status,
        "since": iso(record.since),
        "until": iso(record.until),
        "error": record.error,
    }


def model_infos(registry: Registry) -> list[dict[str, Any]]:
    infos = []
    for name in registry.names():
        try:
            info = model_info(registry, name)
            orjson.dumps(info)
        except Exception:
            continue
        if info is not None:
            infos.append(info)
    return infos


def model_info(registry: Registry, name: str, with_history: bool = False) -> dict[str, Any] | None:
    entry = registry.entry(name)
    if entry is None or not entry.versions:
        return None
    shown = entry.find(entry.serving.version, *IN_SERVICE) if entry.serving else None
    shown = shown or max(reversed(entry.versions), key=lambda v: v.until or v.since)
    info: dict[str, Any] = {
        "name": name,
        "version": shown.version,
        "dataType": shown.data_type,
        "modelType": shown.model_type,
        "description": shown.description,
        "status": shown.status,
        "since": iso(shown.since),
        "expiresAt": iso(shown.expires_at),
        "sha256": shown.sha256,
        "runtime": shown.runtime,
        "schema": shown.schema,
        "metadata": shown.metadata,
        "error": shown.error,
    }
    if with_history:
        info["history"] = [history_entry(v) for v in entry.versions]
    return info


def serving_state(registry: Registry, data_type: str) -> dict[str, Any] | None:
    route = registry.route_for(data_type)
    if route is None:
        return None
    serving = route.primary
    stats = serving.stats
    return {
        "name": serving.name,
        "description": serving.descriptor.description,
        "modelType": serving.descriptor.model_type,
        "version": serving.version,
        "since": iso(stats.since),
        "usage": stats.usage,
        "duration": round(stats.duration_ms, 3),
        "min": round(stats.min_ms, 3) if stats.min_ms is not None else 0.0,
        "max": round(stats.max_ms, 3) if stats.max_ms is not None else 0.0,
        "avg": round(stats.avg_ms, 3),
        "route": route_state(registry, data_type),
    }


def route_state(registry: Registry, data_type: str) -> dict[str, Any] | None:
    route = registry.route_for(data_type)
    if route is None or route.mode == "single":
        return None
    active = registry.book.active.get(data_type)
    return {
        "mode": route.mode,
        "models": {m.name: _member_stats(m) for m in route.members},
        **(stats_dict(active.stats) if active and active.stats else {}),
    }


def _member_stats(serving: ServingModel) -> dict[str, Any]:
    stats = serving.stats
    return {
        "version": serving.version,
        "usage": stats.usage,
        "duration": round(stats.duration_ms, 3),
        "avg": round(stats.avg_ms, 4),
    }


def stats_dict(stats: RouteStats) -> dict[str, Any]:
    if isinstance(stats, ShadowStats):
        return {
            "since": iso(stats.since),
            "primaryLatency": latency_dict(stats.primary),
            "shadows": {name: shadow_dict(m) for name, m in stats.members().items()},
        }
    if isinstance(stats, SplitStats):
        total = sum(stats.answered.values())
        return {
            "since": iso(stats.since),
            "usage": stats.usage,
            "latency": latency_dict(stats.latency),
            "members": {
                name: {"records": count, "share": round(count / total, 6) if total else 0.0}
                for name, count in stats.answered.items()
            },
        }
    assert isinstance(stats, SpeculativeStats)
    return {
        "since": iso(stats.since),
        "decider": stats.decider,
        "deadline": stats.deadline_ms,
        "usage": stats.usage,
        "batches": stats.batches,
        "duration": round(stats.duration_ms, 3),
        "min": round(stats.min_ms or 0.0, 3),
        "max": round(stats.max_ms or 0.0, 3),
        "candidates": {
            name: {"wins": c.wins, "timeouts": c.timeouts} for name, c in stats.candidates.items()
        },
    }


def latency_dict(latency: Latency) -> dict[str, float]:
    return {
        "avgPerRecord": round(latency.total_ms / latency.records, 4) if latency.records else 0.0,
        "avgPerBatch": round(latency.total_ms / latency.batches, 3) if latency.batches else 0.0,
        "maxPerBatch": round(latency.max_ms, 3),
        "records": latency.records,
        "batches": latency.batches,
        "totalMs": round(latency.total_ms, 3),
    }


def shadow_dict(member: ShadowMember) -> dict[str, Any]:
    measure = "labelAgreement" if member.labels else "meanAbsoluteDifference"
    since, recent = member.agreement(), member.window.mean()
    return {
        "agreement": {
            "measure": measure,
            "sinceStart": None if since is None else round(since, 6),
            "last10000": None if recent is None else round(recent, 6),
            "compared": member.compared,
        },
        "errors": member.errors,
        "timeouts": member.timeouts,
        "skipped": member.skipped,
        "latency": latency_dict(member.latency),
    }
