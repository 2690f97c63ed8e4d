"""Request bodies over a real socket (uvicorn, as the service runs it): a body over the bound is
answered 413 while it is read, whether its length is declared or it comes chunked, and the
client reads the answer; a client that leaves mid-body costs a debug line, not an error with
a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from service.http.app import Health, create_app
from service.http.server import EmbeddedServer, make_server
from service.metrics import Metrics
from service.oip.inference import Inference
from service.routing.registry import Registry
from service.scoring.engine import Engine
from tests.service_helpers import until

LIMIT = 64 * 1024


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedServer]:
    registry, metrics = Registry(), Metrics()
    engine = Engine(registry, metrics, None)
    app = create_app(
        registry,
        metrics,
        engine,
        Health(lambda: True, lambda: {}),
        max_request_bytes=LIMIT,
        inference=Inference(registry, engine, metrics, 100, lambda: True, lambda: True, "0"),
    )
    served = make_server(app, "127.0.0.1", 0)
    task = asyncio.create_task(served.serve())
    while not served.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    yield served
    served.should_exit = True
    await task


async def test_bodies_over_the_bound_are_413_declared_or_chunked(server: EmbeddedServer) -> None:
    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b" " * 4096

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        declared = await client.post("/predict/wine", content=b"[" + b" " * (2 * LIMIT) + b"]")
        assert declared.status_code == 413 and str(LIMIT) in declared.json()["detail"]
        chunked = await client.post("/predict/wine", content=chunks(64))
        assert chunked.status_code == 413
        # Under the bound, the request is read and answered (no model: 404).
        small = await client.post("/predict/wine", content=chunks(4))
        assert small.status_code == 400  # spaces are not JSON
        assert (await client.post("/predict/wine", json={"x": 1})).status_code == 404


async def test_an_oip_body_over_the_bound_is_413_with_the_protocols_error(
    server: EmbeddedServer,
) -> None:
    """Under ``/v2`` the 413 is ``{"error": ...}``, the body every other OIP error has and the
    one ``tritonclient`` reads (it fails on any other), declared or chunked."""

    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b" " * 4096

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        declared = await client.post("/v2/models/rf/infer", content=b" " * (2 * LIMIT))
        chunked = await client.post("/v2/models/rf/infer", content=chunks(64))
        # Under the bound, the body is read and answered (spaces are not JSON: 400).
        small = await client.post("/v2/models/rf/infer", content=chunks(4))
    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert answer.json() == {"error": f"request body exceeds {LIMIT} bytes"}
    assert small.status_code == 400 and "JSON" in small.json()["error"]


async def test_a_client_leaving_mid_body_is_a_debug_line(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = b"POST /predict/wine HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n"
    writer.write(head + b"{" * 100)
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async def said() -> bool:
        return any("client left" in r.getMessage() for r in caplog.records)

    await until(said, timeout_s=10, pause_s=0.01)
    left = [r for r in caplog.records if "client left" in r.getMessage()]
    assert [r.levelno for r in left] == [logging.DEBUG]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
