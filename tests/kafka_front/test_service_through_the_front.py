"""The service, the CLI and the learner reach Kafka only through a TLS + SASL front that
refuses everything else: the service serves a model the CLI published (`publish --wait`) and
scores what the CLI sent (`send`), equal to onnxruntime, with neither password anywhere it
shows; with a wrong password, or without the CA, it scores nothing, says why in one line and
is not ready with that reason."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.kafka.clients import open_topic_reader
from service.server import Service
from service.settings import Settings
from service.tools.cli import main
from service.wine import WINE_FIELDS
from tests.kafka_front.certs import Pki
from tests.kafka_front.clients import USERS, StartFront, sasl_options, secured
from tests.kafka_front.front import KafkaFront
from tests.kafka_helpers import isolated_settings
from tests.models import ModelFiles
from tests.service_helpers import http, until

RECORDS = 50
SECRETS = tuple(USERS.values())
# Every answer of the HTTP port that could carry a setting.
SHOWN = (
    *("/health/ready", "/health/live", "/models", "/metrics", "/stats"),
    *("/snapshot", "/cluster", "/state/wine", "/routes"),
)


def as_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings, **kafka: str) -> None:
    """What the CLI reads: the service's topics, and the Kafka settings given (the CLI runs as
    bob, with PLAIN, where the service runs as alice with SCRAM)."""
    for name in ("bootstrap_servers", "control_topic", "output_topic", "events_topic"):
        monkeypatch.setenv(f"MODELSERVE_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("MODELSERVE_DATA_TOPICS", settings.data_topics[0])
    for name, value in kafka.items():
        monkeypatch.setenv(f"MODELSERVE_KAFKA_{name.upper()}", value)


def onnx_labels(files: ModelFiles, rows: np.ndarray) -> list[str]:
    session = ort.InferenceSession(files.forest_onnx.read_bytes())
    return [str(v) for v in session.run(None, {"X": rows})[0]]


async def read_outputs(settings: Settings, count: int) -> list[Any]:
    reader = await open_topic_reader(settings, settings.output_topic)
    records: list[Any] = []
    try:

        async def enough() -> bool:
            for batch in (await reader.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= count

        await until(enough, timeout_s=60, what=f"{count} predictions")
    finally:
        await reader.stop()
    return records


async def test_serve_publish_and_send_through_tls_and_sasl(
    start_front: StartFront,
    pki: Pki,
    model_files: ModelFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    front = await start_front()
    settings = secured(front, pki)
    service = Service(settings)
    try:
        await service.start()
        as_environment(
            monkeypatch,
            settings,
            security_protocol="SASL_SSL",
            ssl_cafile=str(pki.ca),
            sasl_mechanism="PLAIN",
            sasl_username="bob",
            sasl_password=USERS["bob"],
        )
        published = await asyncio.to_thread(
            main,
            [
                "publish",
                str(model_files.forest_onnx),
                "--name",
                "secured-rf",
                "--data-type",
                "wine",
                "--inputs",
                ",".join(WINE_FIELDS),
                "--labels",
                ",".join(model_files.forest_classes),
                "--wait",
            ],
        )
        assert published == 0, capsys.readouterr()
        rows = model_files.features[:RECORDS]
        lines = tmp_path / "wine.jsonl"
        lines.write_bytes(
            b"\n".join(
                orjson.dumps(dict(zip(WINE_FIELDS, map(float, r), strict=True))) for r in rows
            )
        )
        assert await asyncio.to_thread(main, ["send", str(lines), "--data-type", "wine"]) == 0

        outputs = await read_outputs(settings, RECORDS)
        got = {r.key.decode(): orjson.loads(r.value)["result"]["label"] for r in outputs}
        expected = onnx_labels(model_files, rows.astype(np.float32))
        assert got == {f"wine-{i}": label for i, label in enumerate(expected)}

        users = {s.user for s in front.sessions if s.relayed}
        assert users == {"alice", "bob"}  # the service as alice, the CLI as bob
        async with http(service) as client:
            shown = [(await client.get(path)).text for path in SHOWN]
    finally:
        await service.stop()
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out and secret not in err
        assert secret not in caplog.text
        assert not any(secret in text for text in shown)


async def wait_for_the_reason(service: Service) -> tuple[int, dict[str, Any]]:
    await until(lambda: service.http_port is not None, what="the HTTP port (it starts first)")
    async with http(service) as client:

        async def says_why() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get("/health/ready")).json()
            return body if "reason" in body else None

        body = await until(says_why, timeout_s=30, what="a reason in /health/ready")
        status = (await client.get("/health/ready")).status_code
    return status, body


async def refused(
    settings: Settings, front: KafkaFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> tuple[int, dict[str, Any]]:
    """The service started with ``settings`` while 50 records wait on its data topic: what
    /health/ready says once it has tried, and that it scored none of them."""
    right = sasl_options(front, pki.ca, "PLAIN", "bob", USERS["bob"])
    admin = AIOKafkaAdminClient(**right)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.data_topics[0], 1, 1)])
    finally:
        await admin.close()
    service = Service(settings)
    starting = asyncio.create_task(service.start())
    try:
        status, body = await wait_for_the_reason(service)
        assert not starting.done()  # still trying, with backoff
        assert service.metrics.totals.scored == 0 and service.metrics.totals.consumed == 0
        lines = [r.getMessage() for r in caplog.records if r.name == "service.parts"]
        assert any("KafkaUnreachableError" in line for line in lines), lines
    finally:
        service.request_stop()
        await asyncio.wait_for(starting, 30)
        await service.stop()
    return status, body


async def test_a_wrong_password_is_said_in_one_line_and_in_readiness(
    start_front: StartFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    front = await start_front()
    status, body = await refused(
        secured(front, pki, kafka_sasl_password="not-alices-password"), front, pki, caplog
    )
    assert status == 503 and body["ready"] is False and body["brokerReachable"] is False
    assert body["reason"].startswith(f"{front.address}: SaslAuthenticationFailed")
    assert "not-alices-password" not in caplog.text + str(body)


async def test_a_broker_whose_ca_is_not_trusted_is_said_in_one_line(
    start_front: StartFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    front = await start_front()
    status, body = await refused(secured(front, None), front, pki, caplog)
    assert status == 503
    assert body["reason"].startswith(f"{front.address}: SSLCertVerificationError")
    assert "certificate verify failed" in body["reason"]


async def test_the_cli_refused_by_kafka_exits_1_saying_why(
    start_front: StartFront,
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    front = await start_front()
    settings = secured(front, pki)
    as_environment(
        monkeypatch,
        settings,
        security_protocol="SASL_SSL",
        ssl_cafile=str(pki.ca),
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="bob",
        sasl_password="not-bobs-password",
    )
    assert await asyncio.to_thread(main, ["retire", "secured-rf"]) == 1
    out, err = capsys.readouterr()
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"modelserve: Kafka at {front.address}: {front.address}: ")
    assert "SaslAuthenticationFailed" in line
    assert "not-bobs-password" not in out + err


async def test_mutual_tls_serves_with_a_client_certificate(
    start_front: StartFront, pki: Pki
) -> None:
    front = await start_front(sasl=False, require_client_cert=True)
    settings = isolated_settings(
        front.address,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(pki.ca),
        kafka_ssl_certfile=str(pki.client_cert),
        kafka_ssl_keyfile=str(pki.client_key),
        http_host="127.0.0.1",
        http_port=0,
    )
    service = Service(settings)
    try:
        await service.start()
        await until(lambda: all(service.readiness().values()), what="ready through mutual TLS")
    finally:
        await service.stop()
    assert front.sessions and all(s.relayed for s in front.sessions if s.refused is None)
