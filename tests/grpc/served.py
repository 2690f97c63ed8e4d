"""What the servicer's tests share: the gRPC server over the protocol's core (tests/
oip_helpers.py) with a client of the generated stub, and reading its answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from service.grpc.server import GrpcPart
from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from tests.models import ModelFiles
from tests.oip_helpers import Served, served

SERVICE = "/inference.GRPCInferenceService"


@dataclass
class Server:
    core: Served
    stub: Any
    channel: Any

    def raw(self, method: str) -> Any:
        """The method asked with bytes as they are (no serializer on either side)."""
        return self.channel.unary_unary(f"{SERVICE}/{method}")

    def count(self, outcome: str) -> float:
        found = self.core.metrics.registry.get_sample_value(
            "modelserve_inference_requests_total", {"protocol": "grpc", "outcome": outcome}
        )
        return found or 0.0


@asynccontextmanager
async def grpc_server(model_files: ModelFiles) -> AsyncIterator[Server]:
    """``rf`` and ``lr`` served over gRPC on a free port of 127.0.0.1."""
    core = served(model_files)
    part = GrpcPart(core.inference, "127.0.0.1", 0, 1 << 20, grace_s=1.0)
    await part.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{part.port}")
    try:
        yield Server(core, GRPCInferenceServiceStub(channel), channel)
    finally:
        await channel.close()
        await part.stop()


async def status_of(call: Any) -> Any:
    """The status code a call ends with (OK when it answers)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK
