"""A REMOTE model served by MLServer 1.7.1 (mlserver-sklearn, in its own environment), end to
end through the contract: 3,000 wine records streamed at about 500 a second are answered as
scikit-learn answers them, while MLServer is killed (SIGKILL) midway and restarted: none is
lost, none is a dead letter, every answer is right, the service calls MLServer once per batch
(far fewer calls than records), and /models shows the endpoint down during the outage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from service.server import Service
from service.serving.descriptor import ModelDescriptor
from service.tools.publishing import publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import read_all, read_until
from tests.peers import WineModel, serving_mlserver
from tests.service_helpers import http, until

RECORDS = 3000
RATE = 500  # records a second
KILL_AT, RESTART_AT = 1000, 2000  # records sent


class Stream:
    """Records produced at ``RATE``, counted as they go (the outage is measured in them)."""

    def __init__(self, bootstrap: str, topic: str, rows: list[dict[str, Any]]) -> None:
        self.bootstrap, self.topic, self.rows = bootstrap, topic, rows
        self.sent = 0

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            step = RATE // 10
            for start in range(0, len(self.rows), step):
                for i in range(start, min(start + step, len(self.rows))):
                    value = orjson.dumps({"dataType": "wine", "id": f"w{i}", **self.rows[i]})
                    await producer.send(self.topic, value, key=f"w{i}".encode())
                await producer.flush()
                self.sent = min(start + step, len(self.rows))
                await asyncio.sleep(0.1)  # the pace of the stream, not a wait for readiness
        finally:
            await producer.stop()


def remote_calls(exposition: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("modelserve_remote_calls_total{")
    )


async def test_mlserver_killed_and_restarted_midstream_loses_nothing(
    start_service: Any, wine_sklearn: WineModel, tmp_path: Path
) -> None:
    async with serving_mlserver(wine_sklearn, tmp_path / "mlserver") as peer:
        service: Service = await start_service(
            allowed_endpoints=[peer.http_url], remote_timeout_ms=2000
        )
        s = service.settings
        descriptor = ModelDescriptor.model_validate(
            {
                "name": "wine-remote",
                "dataType": "wine",
                "modelType": "REMOTE",
                "endpoint": peer.http_url,
                "remoteModel": peer.model_name,
                "outputs": {"label": "predict", "probabilities": "predict_proba"},
                "labels": [str(c) for c in wine_sklearn.classes],
            }
        )
        offset = await publish(s, descriptor)
        event = await wait_for_event(s, "wine-remote", offset, timeout_s=60)
        assert event is not None and event["status"] == "loaded", event

        features = (wine_sklearn.features * 2)[:RECORDS]
        rows = [dict(zip(WINE_FIELDS, f, strict=True)) for f in features]
        stream = Stream(s.bootstrap_servers, s.data_topics[0], rows)
        streaming = asyncio.create_task(stream.run())
        async with http(service) as client:
            await until(lambda: stream.sent >= KILL_AT, timeout_s=60, what="records sent")
            peer.kill()

            async def shown_down() -> bool:
                info = (await client.get("/models/wine-remote")).json()
                return bool(info["endpoint"]["state"] == "down")

            await until(shown_down, timeout_s=60, what="the endpoint shown down")
            ready = (await client.get("/health/ready")).json()
            assert ready["ready"] is True and ready["endpointsDown"] == [peer.http_url]
            await until(lambda: stream.sent >= RESTART_AT, timeout_s=60, what="records sent")
            await peer.restart()
            await streaming
            out = await read_until(
                s.bootstrap_servers, s.output_topic, lambda r: len(r) >= RECORDS, timeout_s=120
            )
            info = (await client.get("/models/wine-remote")).json()
            assert info["endpoint"]["state"] == "up"
            calls = remote_calls((await client.get("/metrics")).text)

    seen: dict[int, dict[str, Any]] = {}
    for record in out:
        prediction = orjson.loads(record.value)
        seen[int(prediction["id"][1:])] = prediction["result"]
    assert sorted(seen) == list(range(RECORDS))  # none lost, none twice
    assert len(out) == RECORDS
    for i, result in seen.items():
        row = i % len(wine_sklearn.features)
        assert result["label"] == str(wine_sklearn.predict[row]), i
        probabilities = [result["probabilities"][str(c)] for c in wine_sklearn.classes]
        assert probabilities == pytest.approx(wine_sklearn.predict_proba[row], abs=1e-9)
    assert await read_all(s.bootstrap_servers, s.dlq_topic, quiet_ms=500) == []
    # One call per batch, not per record (retries during the outage included).
    assert 0 < calls < RECORDS / 5, calls
