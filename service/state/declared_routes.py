"""``GET /routes`` and ``GET /routes/{dataType}``, typed: each declared route as the route book
holds it (active, pending on the members it waits for, or its last message rejected), the
route message itself, what answers the dataType now, and the route's own stats: the ``route``
part of ``/state/{dataType}`` (routes.py) without its mode and members, which the message
and ``answering`` already say."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, PlainSerializer, SerializerFunctionWrapHandler, field_serializer

from service.clock import iso
from service.routing.registry import Registry
from service.routing.route_book import Declared
from service.routing.route_spec import RouteSpec
from service.state.models import ModelVersion
from service.state.routes import RouteState, route_stats_state
from service.state.shapes import IsoTime, Shape, absent


def _message(spec: RouteSpec) -> Any:
    """The route message as the control topic carries it (``to_json``: no nulls), so that
    ``/routes`` shows what was published, whatever a mode adds."""
    return orjson.loads(spec.to_json())


RouteMessage = Annotated[RouteSpec, PlainSerializer(_message)]


class RouteRejection(Shape):
    """The last route message refused for the dataType (null when it could not be read), why,
    and when."""

    route: RouteMessage | None
    error: str
    at: IsoTime


class Answering(Shape):
    """What scores the dataType's records now: the mode and its members' versions."""

    mode: str
    members: list[ModelVersion]


class RouteInfo(Shape):
    """A dataType's declared route: the pending one if any (``waitingFor`` its members not yet
    serving), else the active one, else only ``lastRejected``. ``stats`` are the active
    route's since it became active (null until it has been)."""

    data_type: str = Field(alias="dataType")
    status: Literal["pending", "active", "rejected"]
    route: RouteMessage | None
    since: IsoTime | None
    waiting_for: list[str] = Field(alias="waitingFor")
    answering: Answering | None
    stats: RouteState | None
    last_rejected: RouteRejection | None = Field(None, alias="lastRejected", exclude_if=absent)

    @field_serializer("stats", mode="wrap")
    def _without_members(
        self, stats: RouteState | None, write: SerializerFunctionWrapHandler
    ) -> dict[str, Any] | None:
        """The mode and the members' serving stats are left out: the message says the one,
        ``/state/{dataType}`` shows the other."""
        written: dict[str, Any] | None = write(stats)
        if written is None:
            return None
        return {key: value for key, value in written.items() if key not in ("mode", "models")}


def route_info(registry: Registry, data_type: str) -> RouteInfo | None:
    """None when the dataType has no route declared, pending or rejected."""
    book = registry.book
    active, pending = book.active.get(data_type), book.pending.get(data_type)
    rejected = book.rejected.get(data_type)
    if active is None and pending is None and rejected is None:
        return None
    shown = pending or active
    return RouteInfo(
        data_type=data_type,
        status="pending" if pending else "active" if active else "rejected",
        route=shown.spec if shown else None,
        since=iso(shown.since) if shown else None,
        waiting_for=list(pending.waiting_for) if pending else [],
        answering=answering(registry, data_type),
        stats=_stats(active) if active else None,
        last_rejected=(
            RouteRejection(route=rejected.spec, error=rejected.error, at=iso(rejected.at))
            if rejected is not None
            else None
        ),
    )


def all_routes(registry: Registry) -> list[RouteInfo]:
    """Every dataType's, in dataType order."""
    book = registry.book
    data_types = sorted({*book.active, *book.pending, *book.rejected})
    return [info for dt in data_types if (info := route_info(registry, dt)) is not None]


def answering(registry: Registry, data_type: str) -> Answering | None:
    route = registry.route_for(data_type)
    if route is None:
        return None
    return Answering(
        mode=route.mode,
        members=[ModelVersion(name=m.name, version=m.version) for m in route.members],
    )


def _stats(declared: Declared) -> RouteState | None:
    if declared.stats is None:
        return None
    return route_stats_state(declared.spec.mode, declared.stats, ())
