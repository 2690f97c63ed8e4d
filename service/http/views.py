"""The JSON shapes of the HTTP contract's queryable state: ModelInfo (``/models``) and the
serving stats of a dataType (``/state/{dataType}``), read from the registry."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from service.http.route_views import route_state
from service.routing.history import IN_SERVICE
from service.routing.registry import Registry
from service.serving.model import iso

log = logging.getLogger(__name__)


def model_infos(registry: Registry) -> list[dict[str, Any]]:
    """``model_info`` of every name, each checked to encode on its own: an entry that cannot
    (a bug the descriptor check let through) is left out and logged, so one bad entry cannot
    take ``/models`` or the snapshots down for every other model."""
    infos = []
    for name in registry.names():
        try:
            info = model_info(registry, name)
            orjson.dumps(info)
        except Exception:
            log.exception("model %r left out of the state: it cannot be shown", name)
            continue
        if info is not None:
            infos.append(info)
    return infos


def model_info(registry: Registry, name: str, with_history: bool = False) -> dict[str, Any] | None:
    """The version in service, else the one whose state changed last (a retired version shows
    as retired even if a failed attempt came after it)."""
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
        info["history"] = [v.history_entry() for v in entry.versions]
    return info


def serving_state(registry: Registry, data_type: str) -> dict[str, Any] | None:
    """The stats of the model answering for the dataType (its route's first member: the
    primary of a shadow route), and, under ``route``, the route's own (http/route_views.py)."""
    route = registry.route_for(data_type)
    if route is None:
        return None
    serving = route.primary
    stats = serving.stats
    state = {
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
    return state
