"""http/route_views.py as it was before state/declared_routes.py typed ``/routes``: ``route_info``,
``all_routes`` and ``answering`` kept verbatim, the oracle the typed documents are compared
with, byte for byte."""

from __future__ import annotations

from typing import Any

import orjson

from service.clock import iso
from service.routing.registry import Registry
from service.routing.route_book import Declared
from service.serving.model import ServingModel
from service.state.routes import route_stats_state
from service.state.shapes import encode


def route_info(registry: Registry, data_type: str) -> dict[str, Any] | None:
    """The dataType's declared route: ``status`` active or pending (with what it waits
    for), or rejected when none is declared and the last route message was refused; the route
    message, what answers now, its stats, and the last rejection."""
    book = registry.book
    active, pending = book.active.get(data_type), book.pending.get(data_type)
    rejected = book.rejected.get(data_type)
    if active is None and pending is None and rejected is None:
        return None
    shown = pending or active
    info: dict[str, Any] = {
        "dataType": data_type,
        "status": "pending" if pending else "active" if active else "rejected",
        "route": _spec(shown),
        "since": iso(shown.since) if shown else None,
        "waitingFor": list(pending.waiting_for) if pending else [],
        "answering": answering(registry, data_type),
        "stats": _stats(active) if active else None,
    }
    if rejected is not None:
        info["lastRejected"] = {
            "route": orjson.loads(rejected.spec.to_json()) if rejected.spec else None,
            "error": rejected.error,
            "at": iso(rejected.at),
        }
    return info


def all_routes(registry: Registry) -> list[dict[str, Any]]:
    book = registry.book
    data_types = sorted({*book.active, *book.pending, *book.rejected})
    return [info for dt in data_types if (info := route_info(registry, dt)) is not None]


def answering(registry: Registry, data_type: str) -> dict[str, Any] | None:
    """What scores the dataType's records now: the mode and its members' versions."""
    route = registry.route_for(data_type)
    if route is None:
        return None
    return {"mode": route.mode, "members": [_member(m) for m in route.members]}


def _stats(declared: Declared) -> dict[str, Any] | None:
    """What the route has done since it became active (None until it has been)."""
    if declared.stats is None:
        return None
    stats = route_stats_state(declared.spec.mode, declared.stats, ())
    return encode(stats, exclude={"mode", "models"})


def _spec(declared: Declared | None) -> dict[str, Any] | None:
    return orjson.loads(declared.spec.to_json()) if declared else None


def _member(serving: ServingModel) -> dict[str, Any]:
    return {"name": serving.name, "version": serving.version}
