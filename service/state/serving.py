"""``GET /state/{dataType}``: the stats of the model answering for the dataType (its route's
first member: the primary of a shadow route; Lightbend's ModelToServeStats, min/max/avg per
record in ms, ``duration`` cumulative), and, under ``route``, the route's own (routes.py)."""

from __future__ import annotations

from pydantic import Field

from service.clock import iso
from service.routing.registry import Registry
from service.state.routes import RouteState, route_state
from service.state.shapes import Count, IsoTime, OpenShape


class ServingState(OpenShape):
    """Read back from other processes' snapshots too: what a newer version adds is kept as it
    came."""

    name: str
    description: str = ""
    model_type: str | None = Field(None, alias="modelType")
    version: int
    since: IsoTime | None = None
    usage: Count = 0
    duration: float = 0.0
    min: float = 0.0
    max: float = 0.0
    avg: float = 0.0
    route: RouteState | None = None


def serving_state(registry: Registry, data_type: str) -> ServingState | None:
    route = registry.route_for(data_type)
    if route is None:
        return None
    serving = route.primary
    stats = serving.stats
    return ServingState(
        name=serving.name,
        description=serving.descriptor.description,
        model_type=serving.descriptor.model_type,
        version=serving.version,
        since=iso(stats.since),
        usage=stats.usage,
        duration=round(stats.duration_ms, 3),
        min=round(stats.min_ms, 3) if stats.min_ms is not None else 0.0,
        max=round(stats.max_ms, 3) if stats.max_ms is not None else 0.0,
        avg=round(stats.avg_ms, 3),
        route=route_state(registry, data_type),
    )
