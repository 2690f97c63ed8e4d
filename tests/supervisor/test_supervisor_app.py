"""The container's one port over two real worker apps (in memory, no broker): sums with each
worker's figures beside them, requests passed through as they came (path, query, status,
body), a worker that cannot be reached listed and passed over, readiness of all, and counts
that never go down across a worker's restart or a missed scrape."""

from __future__ import annotations

from typing import Any, cast

import httpx
import onnxruntime as ort
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from service.cluster.snapshot import Identity, SnapshotTaker
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.http.app import Health, create_app
from service.metrics import Metrics
from service.oip.inference import Inference
from service.scoring.engine import Engine
from service.supervisor.app import create_supervisor_app
from service.supervisor.exposition import MonotonicExposition
from service.supervisor.worker_clients import WorkerClients
from service.wine import WINE_FIELDS
from tests.http.test_app import build
from tests.models import ModelFiles


class Unreachable(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no such socket", request=request)


def worker(model_files: ModelFiles, index: int, ready: bool = True) -> httpx.ASGITransport:
    _, registry = build(model_files)  # rf v4 serving wine
    metrics = Metrics()
    serving = registry.serving_for("wine")
    assert serving is not None
    for size, ms in ((10 * (index + 1), 2.0), (5, 1.0 + index)):
        serving.stats.record_batch(size, ms)
        metrics.record_batch("rf", 4, "wine", size, ms / 1000)
    metrics.record_dead_letter("no-model")
    taker = SnapshotTaker(Identity("box", index), registry, metrics, dict, 5.0)
    cluster = ClusterStats(
        taker, cast(AIOKafkaProducer, None), cast(AIOKafkaConsumer, None), "stats", 5.0
    )
    engine = Engine(registry, metrics, None)
    app = create_app(
        registry,
        metrics,
        engine,
        Health(lambda: True, lambda: {"controlCaughtUp": True, "dataAssigned": ready}),
        cluster,
        Timeline(metrics.totals),
        inference=Inference(registry, engine, metrics, 100, lambda: True, lambda: ready, "0"),
    )
    return httpx.ASGITransport(app=app)


def supervisor(*transports: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    app = create_supervisor_app(WorkerClients(transports), "box")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box")


async def test_stats_and_state_are_the_sums_over_the_workers(model_files: ModelFiles) -> None:
    async with supervisor(worker(model_files, 0), worker(model_files, 1)) as client:
        stats = (await client.get("/stats")).json()
        parts = stats["workers"]
        assert [w["worker"] for w in parts] == [0, 1]
        for key in ("consumed", "scored", "dlq", "batches", "batchedRecords"):
            assert stats[key] == sum(w[key] for w in parts), key
        assert stats["batchedRecords"] == 40
        assert stats["scoringMs"] == round(sum(w["scoringMs"] for w in parts), 3) == 7.0
        assert stats["deadLetters"] == {"no-model": 2}

        state = (await client.get("/state/wine")).json()
        assert (state["usage"], state["duration"]) == (40, 7.0)
        # Per record: 2/10, 1/5 (worker 0), 2/20, 2/5 ms (worker 1).
        assert (state["min"], state["max"], state["avg"]) == (0.1, 0.4, round(7.0 / 40, 3))
        assert [(w["worker"], w["usage"]) for w in state["workers"]] == [(0, 15), (1, 25)]
        assert (await client.get("/state/beer")).status_code == 404


async def test_requests_pass_through_as_they_came(model_files: ModelFiles) -> None:
    async with supervisor(worker(model_files, 0), worker(model_files, 1)) as client:
        record = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
        answers = [await client.post("/predict/wine", json=record) for _ in range(4)]
        session = ort.InferenceSession(str(model_files.forest_onnx))
        expected = session.run(None, {"X": model_files.features[:1]})[0][0]
        assert {a.json()["result"]["label"] for a in answers} == {str(expected)}
        assert answers[0].headers["content-type"] == "application/json"
        unknown = await client.post("/predict/red%20wine", json=record)
        assert unknown.status_code == 404 and "'red wine'" in unknown.json()["error"]
        assert (await client.post("/predict/wine", content=b"{")).status_code == 400
        assert (await client.get("/models/nope")).status_code == 404
        assert (await client.get("/models")).json()["models"][0]["name"] == "rf"
        local = await client.get("/state/wine?scope=cluster")  # the query reaches a worker
        assert local.status_code == 200 and local.json()["scope"] == "cluster"


async def test_a_worker_that_cannot_be_reached_is_listed_and_passed_over(
    model_files: ModelFiles,
) -> None:
    async with supervisor(worker(model_files, 0), Unreachable()) as client:
        stats = (await client.get("/stats")).json()
        assert stats["scored"] == 0 and stats["batches"] == 2
        assert stats["workers"][1]["worker"] == 1 and "ConnectError" in stats["workers"][1]["error"]
        record = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
        for _ in range(3):  # every other turn is the unreachable worker's
            assert (await client.post("/predict/wine", json=record)).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["workers"][0]["ready"] is True
    async with supervisor(Unreachable()) as client:
        assert (await client.get("/models")).status_code == 503
        # Under /v2, in the Open Inference Protocol's form.
        tensor = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [7.0] * 11}
        oip = await client.post("/v2/models/rf/infer", json={"inputs": [tensor]})
        assert (oip.status_code, oip.json()) == (503, {"error": "no worker answered"})


async def test_ready_when_every_worker_is(model_files: ModelFiles) -> None:
    async with supervisor(worker(model_files, 0), worker(model_files, 1, ready=False)) as client:
        answer = await client.get("/health/ready")
        assert answer.status_code == 503
        body = answer.json()
        assert (body["ready"], body["controlCaughtUp"], body["dataAssigned"]) == (
            False,
            True,
            False,
        )
        assert (await client.get("/health/live")).status_code == 200
        oip_ready = await client.get("/v2/health/ready")
        assert (oip_ready.status_code, oip_ready.json()) == (503, {"ready": False})
        assert (await client.get("/v2/health/live")).json() == {"live": True}
    async with supervisor(worker(model_files, 0), worker(model_files, 1)) as client:
        oip_ready = await client.get("/v2/health/ready")
        assert (oip_ready.status_code, oip_ready.json()) == (200, {"ready": True})


async def test_inference_requests_reach_the_workers(model_files: ModelFiles) -> None:
    tensor = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [7.0] * 11}
    async with supervisor(worker(model_files, 0), worker(model_files, 1)) as client:
        for _ in range(2):  # each worker in turn
            answer = await client.post("/v2/models/rf/infer", json={"inputs": [tensor]})
            assert answer.status_code == 200 and answer.json()["model_version"] == "4"
        meta = await client.get("/v2/models/rf")
        assert meta.json()["inputs"][0]["shape"] == [-1, 11]
        missing = await client.post("/v2/models/nope/infer", json={"inputs": [tensor]})
        assert missing.status_code == 404 and "nope" in missing.json()["error"]


def scored(text: bytes) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.name == "modelserve_records_scored_total"
    )


def exposition(records: int) -> str:
    metrics = Metrics()
    metrics.record_batch("rf", 1, "wine", records, 0.001)
    metrics.consumer_lag.labels("data", "0").set(3)
    return metrics.exposition().decode()


def test_counts_never_go_down_across_a_restart_or_a_missed_scrape() -> None:
    merge = MonotonicExposition()
    assert scored(merge.merge({0: exposition(100), 1: exposition(50)})) == 150
    assert scored(merge.merge({0: exposition(120), 1: None})) == 170  # 1 kept at 50
    missed: dict[str, Any] = {
        s.name: s.value
        for family in text_string_to_metric_families(
            merge.merge({0: exposition(120), 1: None}).decode()
        )
        for s in family.samples
    }
    assert missed["modelserve_consumer_lag"] == 3  # gauges of the missing worker are not kept
    assert scored(merge.merge({0: exposition(130), 1: exposition(5)})) == 185  # 1 restarted
    assert scored(merge.merge({0: exposition(130), 1: exposition(7)})) == 187


async def test_a_worker_answering_what_is_not_a_snapshot_is_listed_not_merged(
    model_files: ModelFiles,
) -> None:
    def odd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"instance": "box", "stats": {"scored": "many"}})

    async with supervisor(worker(model_files, 0), httpx.MockTransport(odd)) as client:
        stats = (await client.get("/stats")).json()
        assert stats["batches"] == 2 and [w["worker"] for w in stats["workers"]] == [0, 1]
        assert stats["workers"][1]["error"].startswith("unreadable snapshot")
        state = (await client.get("/state/wine")).json()
        assert state["usage"] == 15 and "unreadable" in state["workers"][1]["error"]
        snapshot = (await client.get("/snapshot")).json()
        assert snapshot["workers"][0]["worker"] == 0 and "error" in snapshot["workers"][1]


async def test_the_snapshot_passes_each_workers_on_as_it_answered(
    model_files: ModelFiles,
) -> None:
    one = worker(model_files, 0)
    async with httpx.AsyncClient(transport=one, base_url="http://w") as direct:
        mine = (await direct.get("/snapshot")).json()
    async with supervisor(one) as client:
        passed = (await client.get("/snapshot")).json()["workers"][0]
    assert passed.keys() == mine.keys() and passed["states"] == mine["states"]
    assert passed["stats"] == {**mine["stats"], "uptime": passed["stats"]["uptime"]}
