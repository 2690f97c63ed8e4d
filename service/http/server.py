"""uvicorn embedded in the service's event loop, with its own signal handling off: the
composition root owns the signals and stops the HTTP server as one step of its drain."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    @property
    def port(self) -> int | None:
        """The TCP port bound (None before, or on a Unix socket)."""
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                address = sock.getsockname()
                return int(address[1]) if isinstance(address, tuple) else None
        return None


def make_server(app: FastAPI, host: str, port: int, uds: str | None = None) -> EmbeddedServer:
    """On ``host:port``, or on the Unix socket ``uds`` (a worker under a supervisor)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        uds=uds,
        # httptools, not h11: a pinned dependency, named so that its absence fails the start
        # rather than quietly serving slower.
        http="httptools",
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return EmbeddedServer(config)


class HttpPart:
    """The HTTP server as a part: it starts first (liveness answers while Kafka is reached)
    and stops last."""

    name = "http"

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server
        self._serving: asyncio.Task[None] | None = None

    @property
    def port(self) -> int | None:
        return self.server.port

    async def start(self) -> None:
        self._serving = asyncio.create_task(self.server.serve(), name="http-serve")
        while not self.server.started:
            if self._serving.done():
                await self._serving
                raise RuntimeError("HTTP server stopped during start")
            await asyncio.sleep(0.01)

    async def run(self) -> None:
        assert self._serving is not None
        await self._serving

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._serving is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._serving

    async def close(self) -> None:
        pass
