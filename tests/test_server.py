"""The composition root's wiring, without a broker: the parts in their order, HTTP first and
live while Kafka is unreachable (not ready), and a stop that ends a start still waiting; gRPC
right after HTTP, unless its port is 0, live and not ready alike, and stopped with the rest."""

from __future__ import annotations

import asyncio
import socket

import grpc
import httpx
import pytest

from service.proto import open_inference_grpc_pb2 as pb
from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from service.server import Service
from service.settings import Settings
from service.tools.devbroker import free_port
from tests.service_helpers import until


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_parts_start_in_order_and_stop_in_reverse() -> None:
    service = Service(Settings(http_port=0))
    assert [part.name for part in service.parts] == [
        "http",
        "grpc",
        "timeline",
        "kafka",
        "stats",
        "control",
        "data",
        "broker",
    ]


async def test_live_but_not_ready_while_kafka_is_unreachable_and_a_stop_ends_the_wait() -> None:
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        http_host="127.0.0.1",
        http_port=0,
        grpc_port=free_port(),
    )
    service = Service(settings)
    starting = asyncio.create_task(service.start())
    for _ in range(500):
        if service.http_port is not None and service.grpc_port is not None:
            break
        await asyncio.sleep(0.01)
    assert service.http_port is not None and service.grpc_port == settings.grpc_port
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}")
    oip = GRPCInferenceServiceStub(channel)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}") as client:
        assert (await client.get("/health/live")).status_code == 200
        assert (await oip.ServerLive(pb.ServerLiveRequest())).live is True

        async def says_why() -> bool:  # once the first attempt to reach Kafka has failed
            return "reason" in (await client.get("/health/ready")).json()

        await until(says_why, what="a reason in /health/ready")
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        reason = body.pop("reason")
        assert body == {
            "ready": False,
            "brokerReachable": False,
            "controlCaughtUp": False,
            "dataAssigned": False,
        }
        assert settings.bootstrap_servers in reason and "ConnectionRefusedError" in reason
        assert (await oip.ServerReady(pb.ServerReadyRequest())).ready is False
    assert not starting.done()  # still waiting for Kafka
    service.request_stop()
    await asyncio.wait_for(starting, 10)
    await asyncio.wait_for(service.stop(), 30)
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # gRPC stopped with the service
        await oip.ServerLive(pb.ServerLiveRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    await channel.close()


async def test_grpc_port_0_builds_no_grpc_server() -> None:
    service = Service(Settings(http_port=0, grpc_port=0))
    assert "grpc" not in [part.name for part in service.parts]
    assert service.grpc_port is None
