"""The supervisor's answers typed: over the same workers' answers (captured once from real
worker apps serving a route of every mode, then replayed, so that both see the same bytes),
the typed supervisor answers ``/stats``, ``/state/{dataType}``, ``/snapshot``, ``/timeline``
and ``/health/ready`` with exactly the bytes the untyped one answered: with workers that
answer, one that cannot be reached, one restarting, and one answering what is not a
snapshot. Only the supervisor's own ``uptime`` is read from its clock, and set aside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from service.cluster.snapshot import Identity, SnapshotTaker
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.http.app import Health, create_app
from service.scoring.engine import Engine
from service.supervisor.app import create_supervisor_app
from service.supervisor.worker_clients import WorkerClients
from tests.state import legacy_supervisor
from tests.state.scenario import DATA_TYPES, busy_registry
from tests.supervisor.test_supervisor_app import Unreachable

PATHS = ("/snapshot", "/timeline", "/health/ready")
Answers = dict[str, tuple[int, bytes]]


async def answers_of(index: int, ready: bool) -> Answers:
    """A worker's answers to what the supervisor merges, as its app gave them."""
    registry, metrics = await busy_registry()
    alone = registry.serving_for("alone")
    assert alone is not None
    alone.stats.record_batch(4 + index, 1.5 + index)  # workers count apart
    metrics.record_batch(alone.name, alone.version, "alone", 4 + index, 0.002)
    timeline = Timeline(metrics.totals)
    for turn in range(3):
        timeline.sample(100.0 + 5.0 * (turn + index))
    lags: dict[tuple[str, int], int | None] = {("data", index): 3, ("data", 9): None}
    taker = SnapshotTaker(Identity("box", index), registry, metrics, lags.copy, 5.0)
    cluster = ClusterStats(
        taker, cast(AIOKafkaProducer, None), cast(AIOKafkaConsumer, None), "stats", 5.0
    )
    checks = {"brokerReachable": True, "controlCaughtUp": True, "dataAssigned": ready}
    app = create_app(
        registry,
        metrics,
        Engine(registry, metrics, None),
        Health(lambda: True, lambda: checks),
        cluster,
        timeline,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
        answered = {path: await client.get(path) for path in PATHS}
    return {path: (a.status_code, a.content) for path, a in answered.items()}


def replaying(answers: Answers) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        status, content = answers.get(request.url.path, (404, b'{"detail":"Not Found"}'))
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return httpx.MockTransport(answer)


def odd() -> httpx.MockTransport:
    """Answers every path with JSON that is not what was asked for."""
    body = orjson.dumps({"instance": "box", "stats": {"scored": "many"}})
    return replaying({path: (200, body) for path in PATHS})


async def both(
    transports: Sequence[httpx.AsyncBaseTransport], path: str
) -> tuple[httpx.Response, httpx.Response]:
    """``path`` from the typed supervisor and from the untyped one, over the same workers."""
    apps: list[FastAPI] = [
        create_supervisor_app(WorkerClients(transports), "box"),
        legacy_supervisor.create_supervisor_app(WorkerClients(transports), "box"),
    ]
    answered = []
    for app in apps:  # an app's failure is its 500, as a client sees it
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://box") as client:
            answered.append(await client.get(path))
    return answered[0], answered[1]


def without_uptime(content: bytes) -> bytes:
    """The supervisor's own uptime, from its clock, set aside; every other byte kept."""
    document: dict[str, Any] = orjson.loads(content)
    assert isinstance(document.pop("uptime"), float)
    return orjson.dumps(document)


async def assert_same(
    transports: Sequence[httpx.AsyncBaseTransport], paths: Sequence[str]
) -> list[httpx.Response]:
    typed_answers = []
    for path in paths:
        typed, untyped = await both(transports, path)
        assert typed.status_code == untyped.status_code, path
        if path == "/stats":
            assert without_uptime(typed.content) == without_uptime(untyped.content)
        else:
            assert typed.content == untyped.content, path
        typed_answers.append(typed)
    return typed_answers


MERGED = ("/stats", *(f"/state/{dt}" for dt in (*DATA_TYPES, "described", "beer")), "/snapshot")


@pytest.fixture
async def workers() -> list[Answers]:
    return [await answers_of(0, ready=True), await answers_of(1, ready=False)]


async def test_answering_workers_are_merged_as_before(workers: list[Answers]) -> None:
    transports = [replaying(w) for w in workers]
    stats, *_, beer, snapshot, timeline, ready = await assert_same(
        transports, [*MERGED, "/timeline", "/health/ready"]
    )
    assert [w["worker"] for w in stats.json()["workers"]] == [0, 1]
    assert beer.status_code == 404 and len(snapshot.json()["workers"]) == 2
    assert [s["t"] for s in timeline.json()["samples"]] == [105.0, 110.0]
    assert ready.status_code == 503 and ready.json()["dataAssigned"] is False


async def test_workers_unreachable_or_restarting_are_listed_as_before(
    workers: list[Answers],
) -> None:
    starting = {"ready": False, "brokerReachable": False, "controlCaughtUp": False}
    restarting = replaying(
        {
            "/snapshot": (503, b'{"detail":"starting"}'),
            "/timeline": (503, b'{"detail":"starting"}'),
            "/health/ready": (503, orjson.dumps({**starting, "dataAssigned": False})),
        }
    )
    transports = [replaying(workers[0]), Unreachable(), restarting]
    stats, *_ = await assert_same(transports, [*MERGED, "/timeline", "/health/ready"])
    errors = [w.get("error", "") for w in stats.json()["workers"]]
    assert errors[0] == "" and "ConnectError" in errors[1] and errors[2] == "answered 503"


async def test_a_worker_answering_what_is_not_a_snapshot_is_listed_as_before(
    workers: list[Answers],
) -> None:
    """``/timeline`` and ``/health/ready`` differ here: the untyped supervisor failed on such
    a timeline (500) and merged such a readiness's keys as checks; the typed one leaves the
    timeline out and counts the worker not ready."""
    transports = [replaying(workers[0]), odd()]
    stats, *_ = await assert_same(transports, MERGED)
    assert stats.json()["workers"][1]["error"].startswith("unreadable snapshot")
    timeline, untyped_timeline = await both(transports, "/timeline")
    assert untyped_timeline.status_code == 500
    alone, _ = await both([replaying(workers[0])], "/timeline")
    assert timeline.status_code == 200 and timeline.content == alone.content
    ready, _ = await both(transports, "/health/ready")
    assert ready.status_code == 503 and ready.json()["workers"][1] == {"worker": 1, "ready": False}
    checks = ["brokerReachable", "controlCaughtUp", "dataAssigned"]
    assert list(ready.json()) == ["ready", *checks, "workers"]


async def test_no_workers_at_all_answer_as_before() -> None:
    await assert_same([], ["/stats", "/state/shadow", "/snapshot", "/timeline", "/health/ready"])
