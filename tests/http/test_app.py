"""The HTTP app over an in-memory registry (no broker): routes, status codes, shapes."""

from __future__ import annotations

from typing import Any

import httpx
import onnxruntime as ort
from fastapi import FastAPI

from service.http.app import Health, create_app
from service.http.body_limit import DEFAULT_MAX_REQUEST_BYTES
from service.metrics import Metrics
from service.routing.registry import Registry
from service.runtimes.onnx import OnnxModel
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor
from service.wine import WINE_FIELDS
from tests.models import ModelFiles


def build(model_files: ModelFiles, ready: bool = True) -> tuple[httpx.AsyncClient, Registry]:
    app, registry = wine_app(model_files, ready)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return client, registry


def wine_app(
    model_files: ModelFiles, ready: bool = True, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> tuple[FastAPI, Registry]:
    """The app over a registry serving the wine forest (version 4)."""
    registry, metrics = Registry(), Metrics()
    artifact = model_files.forest_onnx.read_bytes()
    descriptor = ModelDescriptor.model_validate(
        {"name": "rf", "version": 4, "dataType": "wine", "modelType": "ONNX", "data": artifact}
    )
    registry.begin_load(descriptor)
    registry.install(
        descriptor, OnnxModel(artifact, WINE_FIELDS, model_files.forest_classes), "d" * 64
    )
    app = create_app(
        registry,
        metrics,
        Engine(registry, metrics, None),
        Health(live=lambda: True, ready=lambda: {"controlCaughtUp": ready, "dataAssigned": True}),
        max_request_bytes=max_request_bytes,
    )
    return app, registry


def record(model_files: ModelFiles, i: int = 0) -> dict[str, Any]:
    return dict(zip(WINE_FIELDS, map(float, model_files.features[i]), strict=True))


async def test_models_and_state(model_files: ModelFiles) -> None:
    client, _ = build(model_files)
    async with client:
        models = (await client.get("/models")).json()["models"]
        assert models[0]["name"] == "rf" and models[0]["status"] == "serving"
        assert set(models[0]) == {
            "name",
            "version",
            "dataType",
            "modelType",
            "description",
            "status",
            "since",
            "expiresAt",
            "sha256",
            "runtime",
            "schema",
            "metadata",
            "error",
        }
        assert models[0]["runtime"] == f"onnxruntime {ort.__version__}"
        # One [N,11] float tensor, named column by column by `inputs`.
        assert models[0]["schema"] == [
            {"name": name, "type": "float", "shape": []} for name in WINE_FIELDS
        ]
        detail = (await client.get("/models/rf")).json()
        assert detail["history"] == [
            {
                "version": 4,
                "status": "serving",
                "since": detail["since"],
                "until": None,
                "error": None,
            }
        ]
        state = (await client.get("/state/wine")).json()
        assert set(state) == {
            "name",
            "description",
            "modelType",
            "version",
            "since",
            "usage",
            "duration",
            "min",
            "max",
            "avg",
            "route",
        }
        assert state["route"] is None  # one model: no route of its own
        assert state["usage"] == 0
        await client.post("/predict/wine", json=[record(model_files, i) for i in range(7)])
        assert (await client.get("/state/wine")).json()["usage"] == 7
        stats = (await client.get("/stats")).json()
        assert stats["scored"] == 7 and stats["batches"] == 1 and stats["avgBatchSize"] == 7


async def test_predict_shapes(model_files: ModelFiles) -> None:
    client, _ = build(model_files)
    async with client:
        answer = (
            await client.post("/predict/wine", json={**record(model_files), "id": "x1"})
        ).json()
        assert answer["id"] == "x1" and answer["model"] == {"name": "rf", "version": 4}
        assert answer["result"]["label"] in model_files.forest_classes
        assert abs(sum(answer["result"]["probabilities"].values()) - 1) < 1e-4
        assert set(answer["timestamps"]) == {"ingested", "scored"}
        assert (await client.post("/predict/wine", json=[1, 2])).status_code == 400
        assert (await client.post("/predict/wine", json={"pH": "acid"})).status_code == 422


async def test_one_record_and_many_answer_alike(model_files: ModelFiles) -> None:
    """What concerns the whole request is its status in both forms (no model: 404); what
    concerns a record is its own answer (one record: its status; a list: 200, an item each);
    a record without an id is answered with id null, never an invented one."""
    client, _ = build(model_files)
    good, bad = record(model_files), {"pH": "acid"}
    async with client:
        for body in (good, [good]):
            answer = await client.post("/predict/beer", json=body)
            assert answer.status_code == 404 and answer.json()["reason"] == "no-model"
        one = await client.post("/predict/wine", json=good)
        assert one.status_code == 200 and one.json()["id"] is None
        listed = await client.post("/predict/wine", json=[good, {**bad, "id": 7}, bad])
        assert listed.status_code == 200
        first, second, third = listed.json()
        assert first["id"] is None and first["result"] == one.json()["result"]
        assert second["id"] == "7" and second["reason"] == "invalid-record"
        assert third["id"] is None and "missing feature" in third["error"]


async def test_readiness_reflects_the_checks(model_files: ModelFiles) -> None:
    client, _ = build(model_files, ready=False)
    async with client:
        answer = await client.get("/health/ready")
        assert answer.status_code == 503
        assert answer.json() == {"ready": False, "controlCaughtUp": False, "dataAssigned": True}
        assert (await client.get("/health/live")).status_code == 200
        assert "modelserve_records_scored" in (await client.get("/metrics")).text
