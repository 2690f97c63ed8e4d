"""``/routes`` and ``/routes/{dataType}`` typed: through a route's life (pending on a member,
active, a later message refused beside it, refused alone, unreadable, removed) and for a
route of every mode with traffic through it, each document encodes to exactly the bytes the
untyped views wrote, over HTTP too."""

from __future__ import annotations

import httpx
import orjson

from service.http import views
from service.http.app import Health, create_app
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.state.declared_routes import all_routes, answering, route_info
from service.state.shapes import encode
from tests.routing.stubs import Threshold, declare, install
from tests.state import legacy_route_views
from tests.state.scenario import DATA_TYPES, busy_registry


def assert_written_as_before(registry: Registry, *data_types: str) -> None:
    for data_type in (*data_types, "unknown"):
        info = route_info(registry, data_type)
        expected = orjson.dumps(legacy_route_views.route_info(registry, data_type))
        assert orjson.dumps(info and encode(info)) == expected, data_type
        assert orjson.dumps(views.route_info(registry, data_type)) == expected, data_type
        now = answering(registry, data_type)
        assert orjson.dumps(now and encode(now)) == orjson.dumps(
            legacy_route_views.answering(registry, data_type)
        )
    expected = orjson.dumps(legacy_route_views.all_routes(registry))
    assert orjson.dumps([encode(info) for info in all_routes(registry)]) == expected
    assert orjson.dumps(views.all_routes(registry)) == expected


async def test_every_mode_with_traffic_is_written_as_before() -> None:
    registry, _ = await busy_registry()
    assert_written_as_before(registry, *DATA_TYPES)
    shown = {info.data_type: info for info in all_routes(registry)}
    assert set(shown) == {"shadow", "canary", "ensemble", "speculative"}
    for info in shown.values():
        written = encode(info)
        assert written["stats"] is not None and "mode" not in written["stats"]
        assert info.answering is not None and written["route"]["mode"] == info.answering.mode


async def test_a_routes_life_is_written_as_before() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    assert_written_as_before(registry, "d")
    declare(registry, mode="ensemble", members=["a", "b"])  # pending on b
    assert_written_as_before(registry, "d")
    install(registry, "b", Threshold(1))  # active
    assert_written_as_before(registry, "d")
    declare(registry, mode="canary", weights={"a": 1, "nobody": 0})  # refused beside it
    assert_written_as_before(registry, "d")
    info = route_info(registry, "d")
    assert info is not None and info.status == "active" and info.last_rejected is not None
    declare(registry, "e", mode="shadow", primary="a", shadows=["a"])  # refused alone
    registry.book.reject("f", None, "not a route message")  # unreadable
    declare(registry, "g", mode="canary", weights={"a": 2.5, "c": 1})  # pending on c
    assert_written_as_before(registry, "d", "e", "f", "g")
    assert [i.status for i in all_routes(registry)] == ["active", "rejected", "rejected", "pending"]
    registry.remove_route("d")
    assert_written_as_before(registry, "d", "e", "f", "g")


async def test_routes_over_http_are_the_bytes_the_untyped_views_gave() -> None:
    registry, metrics = await busy_registry()
    registry.book.reject("f", None, "not a route message")
    app = create_app(
        registry, metrics, Engine(registry, metrics, None), Health(lambda: True, lambda: {})
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        listed = await client.get("/routes")
        assert listed.content == orjson.dumps({"routes": legacy_route_views.all_routes(registry)})
        for data_type in ("shadow", "speculative", "f"):
            one = await client.get(f"/routes/{data_type}")
            assert one.content == orjson.dumps(legacy_route_views.route_info(registry, data_type))
