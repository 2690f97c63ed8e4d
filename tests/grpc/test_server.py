"""The gRPC server as a part: it serves once started and refuses calls once stopped; a stop
lets the calls in flight finish, for a bounded grace; two servers bind one port
(SO_REUSEPORT, as the workers of WORKERS=N do) and both answer; a request over the bound is
refused; a port held by another socket stops the start with a reason."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest

from service.grpc.server import GrpcPart
from service.metrics import Metrics
from service.oip.inference import Inference
from service.proto import open_inference_grpc_pb2 as pb
from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from service.routing.registry import Registry
from service.scoring.engine import Engine
from tests.service_helpers import until


def inference(version: str = "1.0") -> Inference:
    """The protocol's core over an empty registry: enough for health and refusals."""
    registry, metrics = Registry(), Metrics()
    engine = Engine(registry, metrics, None)
    return Inference(registry, engine, metrics, 100, lambda: True, lambda: False, version)


@asynccontextmanager
async def running(part: GrpcPart) -> AsyncIterator[asyncio.Task[None]]:
    await part.start()
    run = asyncio.create_task(part.run())
    try:
        yield run
    finally:
        await part.stop()
        await asyncio.wait_for(run, 10)


def stub(port: int | None, *options: tuple[str, Any]) -> tuple[Any, Any]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=list(options))
    return channel, GRPCInferenceServiceStub(channel)


def infer_request() -> Any:
    tensor = pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1])
    return pb.ModelInferRequest(model_name="m", inputs=[tensor], raw_input_contents=[b"\0\0\0\0"])


async def test_it_serves_once_started_and_refuses_once_stopped() -> None:
    part = GrpcPart(inference(), "127.0.0.1", 0, 1 << 20, grace_s=1.0)
    assert part.port is None
    async with running(part) as run:
        assert part.port
        channel, client = stub(part.port)
        assert (await client.ServerLive(pb.ServerLiveRequest())).live is True
        assert (await client.ServerReady(pb.ServerReadyRequest())).ready is False
    assert run.done()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.ServerLive(pb.ServerLiveRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    await channel.close()


async def blocked(core: Inference, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Inference that waits for ``release`` once ``entered``."""
    entered, release = asyncio.Event(), asyncio.Event()
    answer = pb.ModelInferResponse()

    async def infer(*args: Any) -> Any:
        entered.set()
        await release.wait()
        return answer

    monkeypatch.setattr(core, "infer", infer)
    monkeypatch.setattr("service.grpc.servicer.response_to_proto", lambda response: response)
    return entered, release


async def test_a_stop_lets_a_call_in_flight_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    core = inference()
    entered, release = await blocked(core, monkeypatch)
    part = GrpcPart(core, "127.0.0.1", 0, 1 << 20, grace_s=30.0)
    await part.start()
    channel, client = stub(part.port)
    call = asyncio.ensure_future(client.ModelInfer(infer_request()))
    await asyncio.wait_for(entered.wait(), 10)
    stopping = asyncio.create_task(part.stop())
    # Once stopping, the server takes no new call; the one in flight still runs. A call on
    # the open connection is refused either by its GOAWAY (UNAVAILABLE) or, when it reached
    # the server first, by the server cancelling it (CANCELLED): grpc-core races the two.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.ServerLive(pb.ServerLiveRequest(), timeout=5)
    assert caught.value.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
    assert not stopping.done() and not call.done()
    release.set()
    assert (await asyncio.wait_for(call, 10)) == pb.ModelInferResponse()
    await asyncio.wait_for(stopping, 10)
    await channel.close()


async def test_the_grace_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    core = inference()
    entered, _ = await blocked(core, monkeypatch)  # never released
    part = GrpcPart(core, "127.0.0.1", 0, 1 << 20, grace_s=0.2)
    await part.start()
    channel, client = stub(part.port)
    call = asyncio.ensure_future(client.ModelInfer(infer_request()))
    await asyncio.wait_for(entered.wait(), 10)
    await asyncio.wait_for(part.stop(), 5)
    with pytest.raises(grpc.aio.AioRpcError):
        await asyncio.wait_for(call, 10)
    await channel.close()


async def test_two_servers_bind_one_port_and_both_answer() -> None:
    first = GrpcPart(inference("first"), "127.0.0.1", 0, 1 << 20, grace_s=1.0)
    async with running(first):
        second = GrpcPart(inference("second"), "127.0.0.1", first.port or 0, 1 << 20, 1.0)
        async with running(second):
            assert second.port == first.port
            answered: set[str] = set()

            async def both_answered() -> bool:
                # A channel of its own: a new connection, which the kernel gives to either.
                channel, client = stub(first.port, ("grpc.use_local_subchannel_pool", 1))
                metadata = await client.ServerMetadata(pb.ServerMetadataRequest())
                await channel.close()
                answered.add(metadata.version)
                return answered == {"first", "second"}

            await until(both_answered, timeout_s=20, pause_s=0.01, what="both servers answer")


async def test_a_request_over_the_bound_is_refused() -> None:
    part = GrpcPart(inference(), "127.0.0.1", 0, 2048, grace_s=1.0)
    async with running(part):
        channel, client = stub(part.port)
        request = infer_request()
        request.raw_input_contents[0] = b"\0" * 4096
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.ModelInfer(request)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        await channel.close()


async def test_a_port_another_socket_holds_stops_the_start() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        part = GrpcPart(inference(), "127.0.0.1", port, 1 << 20, grace_s=1.0)
        with pytest.raises(RuntimeError, match="MODELSERVE_GRPC_PORT=0 turns it off"):
            await part.start()
        await part.stop()  # safe on a part whose start failed
        await part.close()
