"""grpcio's asyncio server in the service's event loop, as a part. It binds its port with
SO_REUSEPORT (grpcio's default on Linux, set here so it does not depend on one), so that
under ``WORKERS=N`` every worker binds the container's one gRPC port and the kernel spreads
the connections over them; the supervisor binds none."""

from __future__ import annotations

from typing import Any

import grpc

from service.grpc.servicer import SERVICE, InferenceServicer, method_handlers
from service.oip.inference import Inference


class GrpcPart:
    """The gRPC server: it starts right after HTTP (health answers while Kafka is reached)
    and stops just before it. A stop refuses new calls at once and lets those in flight
    finish for up to ``grace_s``, then cancels them."""

    name = "grpc"

    def __init__(
        self,
        inference: Inference,
        host: str,
        port: int,
        max_message_bytes: int,
        grace_s: float,
    ) -> None:
        """``port`` 0 picks a free one (tests); ``max_message_bytes`` bounds a request."""
        self._servicer = InferenceServicer(inference)
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 1),
        ]
        self._grace_s = grace_s
        self._server: Any = None
        self._port: int | None = None

    @property
    def port(self) -> int | None:
        """The TCP port bound (None before the start)."""
        return self._port

    async def start(self) -> None:
        server = grpc.aio.server(options=self._options)
        handlers = method_handlers(self._servicer)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        server.add_registered_method_handlers(SERVICE, handlers)
        try:
            port = server.add_insecure_port(self._address)
        except RuntimeError as exc:  # not retriable: the port stays taken
            await server.stop(None)  # else its finalizer shuts it down on a loop maybe gone
            raise RuntimeError(
                f"gRPC cannot bind {self._address} ({exc}); MODELSERVE_GRPC_PORT=0 turns it off"
            ) from None
        await server.start()
        self._server, self._port = server, port

    async def run(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(self._grace_s)

    async def close(self) -> None:
        pass
