"""The ``route`` part of ``/state/{dataType}`` typed, one type per mode: each encodes to exactly
what the untyped view wrote, ``/routes``' ``stats`` too; read back, a document finds its
mode's type, and a mode or keys only a newer writer knows are kept as they came."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from service.http.views import route_info
from service.state.routes import (
    OtherRouteState,
    RouteState,
    ShadowRouteState,
    SpeculativeRouteState,
    SplitRouteState,
    route_state,
)
from service.state.shapes import encode
from tests.state import legacy_views
from tests.state.scenario import DATA_TYPES, busy_registry

ROUTE: TypeAdapter[RouteState] = TypeAdapter(RouteState)


async def test_every_mode_shows_as_the_untyped_view_showed_it() -> None:
    registry, _ = await busy_registry()
    types: dict[str, type] = {}
    for data_type in (*DATA_TYPES, "unknown"):
        state = route_state(registry, data_type)
        expected = legacy_views.route_state(registry, data_type)
        assert orjson.dumps(state and encode(state)) == orjson.dumps(expected), data_type
        if state is not None:
            types[data_type] = type(state)
        active = registry.book.active.get(data_type)
        info = route_info(registry, data_type)
        if active is not None and active.stats is not None and info is not None:
            expected_stats = legacy_views.stats_dict(active.stats)
            assert orjson.dumps(info["stats"]) == orjson.dumps(expected_stats), data_type
    assert types == {
        "shadow": ShadowRouteState,
        "canary": SplitRouteState,
        "ensemble": SplitRouteState,
        "speculative": SpeculativeRouteState,
    }


async def test_a_document_reads_back_into_its_modes_type() -> None:
    registry, _ = await busy_registry()
    for data_type in ("shadow", "canary", "ensemble", "speculative"):
        state = route_state(registry, data_type)
        assert state is not None
        assert ROUTE.validate_json(orjson.dumps(encode(state))) == state


def test_a_newer_writers_mode_and_keys_are_kept() -> None:
    doc: dict[str, Any] = {
        "mode": "mirror",
        "models": {"a": {"version": 1, "usage": 2, "duration": 1.0, "avg": 0.5, "warm": True}},
        "since": "2026-11-21T10:00:00Z",
        "mirrored": 7,
    }
    state = ROUTE.validate_python(doc)
    assert isinstance(state, OtherRouteState) and encode(state) == doc
    shadow = {"mode": "shadow", "primaryLatency": {"records": 1, "p99": 3.0}, "ring": [1]}
    read = ROUTE.validate_python(shadow)
    assert isinstance(read, ShadowRouteState) and read.primary_latency.records == 1
    assert encode(read)["ring"] == [1] and encode(read)["primaryLatency"]["p99"] == 3.0
