"""Routes over HTTP, with no broker: /routes and /routes/{dataType} through a route's life,
/state's route part, and /predict following the route as the stream does."""

from __future__ import annotations

import httpx

from service.http.app import Health, create_app
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from tests.routing.stubs import Threshold, declare, install


def client_for(registry: Registry) -> httpx.AsyncClient:
    metrics = Metrics()
    app = create_app(
        registry, metrics, Engine(registry, metrics, None), Health(lambda: True, lambda: {})
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_routes_show_pending_active_rejected_and_removed() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    async with client_for(registry) as client:
        assert (await client.get("/routes")).json() == {"routes": []}
        assert (await client.get("/routes/d")).status_code == 404
        declare(registry, mode="ensemble", members=["a", "b"])
        pending = (await client.get("/routes/d")).json()
        assert pending["status"] == "pending" and pending["waitingFor"] == ["b"]
        assert pending["answering"] == {"mode": "single", "members": [{"name": "a", "version": 1}]}
        assert pending["route"]["members"] == ["a", "b"] and pending["stats"] is None
        install(registry, "b", Threshold(1))
        active = (await client.get("/routes/d")).json()
        assert active["status"] == "active" and active["waitingFor"] == []
        assert active["answering"]["mode"] == "ensemble"
        declare(registry, mode="canary", weights={"a": 1, "nobody": 0})
        shown = (await client.get("/routes")).json()["routes"]
        assert len(shown) == 1 and shown[0]["status"] == "active"
        assert "weights must be positive" in shown[0]["lastRejected"]["error"]
        models = {m["name"]: m["status"] for m in (await client.get("/models")).json()["models"]}
        assert models == {"a": "serving", "b": "serving"}
        registry.remove_route("d")
        assert (await client.get("/routes/d")).status_code == 404


async def test_predict_follows_the_route_and_state_shows_its_stats() -> None:
    registry = Registry()
    a, b = Threshold(0, confidence=0.9), Threshold(1, confidence=0.6)
    install(registry, "a", a)
    install(registry, "b", b)
    declare(registry, mode="speculative", candidates=["b", "a"], deadlineMs=5000)
    async with client_for(registry) as client:
        answer = (await client.post("/predict/d", json={"x": 1})).json()
        assert answer["model"] == {"name": "b", "version": 1}
        assert answer["result"]["label"] == b.label(1)
        declare(registry, mode="ensemble", members=["a", "b"], combine="mean")
        answers = (await client.post("/predict/d", json=[{"x": 0}, {"x": 2}])).json()
        assert [p["model"]["name"] for p in answers] == ["d ensemble"] * 2
        state = (await client.get("/state/d")).json()
        assert state["name"] == "a" and state["route"]["mode"] == "ensemble"
        assert state["route"]["models"]["b"]["usage"] >= 2  # its own stats, in every route
        assert state["route"]["usage"] == 2 and set(state["route"]["members"]) == {"a", "b"}
