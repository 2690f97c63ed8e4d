"""``/models`` and ``/models/{name}`` typed: for a registry in every state a model can be in,
each document encodes to exactly what the untyped views wrote (keys, order, values, nulls)."""

from __future__ import annotations

import orjson

from service.http import views
from service.routing.registry import Registry
from service.state.models import ModelStatus, model_detail, model_info, model_infos
from service.state.shapes import encode
from tests.routing.stubs import Threshold, descriptor
from tests.state import legacy_views
from tests.state.scenario import busy_registry


async def test_every_name_shows_as_the_untyped_views_showed_it() -> None:
    registry, _ = await busy_registry()
    statuses = set()
    for name in [*registry.names(), "unknown"]:
        info, detail = model_info(registry, name), model_detail(registry, name)
        expected = legacy_views.model_info(registry, name)
        assert orjson.dumps(info and encode(info)) == orjson.dumps(expected), name
        assert orjson.dumps(views.model_info(registry, name)) == orjson.dumps(expected)
        expected = legacy_views.model_info(registry, name, with_history=True)
        assert orjson.dumps(detail and encode(detail)) == orjson.dumps(expected), name
        assert orjson.dumps(views.model_info(registry, name, with_history=True)) == orjson.dumps(
            expected
        )
        statuses.add(info.status if info else None)
    assert statuses == {"serving", "standby", "retired", "failed", "rejected", None}
    shown = [encode(i) for i in model_infos(registry)]
    assert orjson.dumps(shown) == orjson.dumps(legacy_views.model_infos(registry))
    assert views.model_infos(registry) == shown


def test_an_entry_that_cannot_be_encoded_is_left_out_alone() -> None:
    registry = Registry()
    registry.install(descriptor("fine"), Threshold(), "0" * 64)
    odd = descriptor("odd").model_copy(update={"metadata": {"huge": 2**70}})
    registry.install(odd, Threshold(), "0" * 64)
    assert [i.name for i in model_infos(registry)] == ["fine"]
    assert views.model_infos(registry) == legacy_views.model_infos(registry)


async def test_the_snapshot_shows_each_in_short() -> None:
    registry, _ = await busy_registry()
    for info in model_infos(registry):
        status = encode(ModelStatus.of(info))
        assert status == {k: encode(info)[k] for k in ("name", "version", "dataType", "status")}


class Remote(Threshold):
    """A model served elsewhere: it says how its server is."""

    def endpoint_state(self) -> dict[str, object]:
        return {
            "url": "http://mlserver:8080",
            "state": "down",
            "since": "2026-12-03T20:00:00Z",
            "lastError": "ConnectError: connection refused",
        }


def test_a_remote_model_shows_its_servers_state_and_no_other_model_has_the_field() -> None:
    registry = Registry()
    registry.install(descriptor("far"), Remote(), "0" * 64)
    registry.install(descriptor("near", "e"), Threshold(), "0" * 64)
    far = model_info(registry, "far")
    assert far is not None
    shown = encode(far)["endpoint"]
    assert shown["url"] == "http://mlserver:8080" and shown["state"] == "down"
    assert shown["lastError"] == "ConnectError: connection refused"
    detail = model_detail(registry, "far")
    assert detail is not None and encode(detail)["endpoint"]["state"] == "down"
    near = model_info(registry, "near")
    assert near is not None and "endpoint" not in encode(near)
