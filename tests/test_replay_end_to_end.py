"""A replica starting over a long control log, on the broker: it loads only the version serving
at the end (and nothing when a tombstone ends the log), on a control topic created compacted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from service.kafka.topics import ensure_topics
from service.server import Service
from service.settings import Settings
from service.tools.publishing import build_descriptor
from service.wine import WINE_FIELDS
from tests.kafka_helpers import isolated_settings, produce, read_all
from tests.models import ModelFiles
from tests.service_helpers import http

VERSIONS = 300


async def wait_ready(client: httpx.AsyncClient, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (answer := await client.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready in {timeout_s}s: {answer.text}"
        await asyncio.sleep(0.05)


async def loads(client: httpx.AsyncClient) -> float:
    """``loaded`` model events counted by the replica's metrics."""
    text = (await client.get("/metrics")).text
    line = 'modelserve_model_events_total{status="loaded"}'
    return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))


async def events_of(settings: Settings, instance: str) -> list[dict[str, Any]]:
    records = await read_all(settings.bootstrap_servers, settings.events_topic)
    events = [orjson.loads(r.value) for r in records]
    return [e for e in events if e["instance"] == instance and e["kind"] == "model"]


async def cleanup_policy(settings: Settings) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, settings.control_topic)
        (response,) = await admin.describe_configs([resource])
        entries = response.resources[0][4]
        return next((value for name, value, *_ in entries if name == "cleanup.policy"), None)
    finally:
        await admin.close()


async def test_a_replica_loads_only_the_last_of_300_versions(
    start_service: Any, model_files: ModelFiles, bootstrap: str
) -> None:
    settings = isolated_settings(bootstrap)
    await ensure_topics(settings)
    assert await cleanup_policy(settings) == "compact"
    descriptor = build_descriptor(
        model_files.regressor_onnx, "learned", "wine", inputs=list(WINE_FIELDS)
    )
    await produce(
        bootstrap, settings.control_topic, [(b"learned", descriptor.to_json())] * VERSIONS
    )

    first: Service = await start_service(settings.model_copy(update={"instance_id": "first"}))
    async with http(first) as client:
        await wait_ready(client)
        info = (await client.get("/models/learned")).json()
        assert (info["version"], info["status"]) == (VERSIONS, "serving")
        history = [(h["version"], h["status"]) for h in info["history"]]
        assert history == [(v, "superseded") for v in range(1, VERSIONS)] + [(VERSIONS, "serving")]
        assert await loads(client) == 1
        row = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
        answer = (await client.post("/predict/wine", content=orjson.dumps(row))).json()
        assert answer["model"] == {"name": "learned", "version": VERSIONS}
    loaded = [e for e in await events_of(settings, "first") if e["status"] == "loaded"]
    assert [(e["version"], e["offset"]) for e in loaded] == [(VERSIONS, VERSIONS - 1)]

    # A tombstone after them: a replica starting now loads nothing.
    await produce(bootstrap, settings.control_topic, [(b"learned", None)])
    second: Service = await start_service(settings.model_copy(update={"instance_id": "second"}))
    async with http(second) as client:
        await wait_ready(client)
        info = (await client.get("/models/learned")).json()
        assert (info["version"], info["status"]) == (VERSIONS, "retired")
        assert [h["status"] for h in info["history"]][-2:] == ["superseded", "retired"]
        assert await loads(client) == 0
        assert (await client.get("/state/wine")).status_code == 404
    assert await events_of(settings, "second") == []
