"""Closed-loop load for request-reply servers: N clients, each sending its next request as soon
as the last is answered, for a fixed time. The HTTP client is a bare HTTP/1.1 keep-alive
connection over asyncio streams, so that the load generator (on the same two cores as the
server) costs as little as it can and costs the same for every server measured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

WARM_UP_S = 2.0

Call = Callable[[], Awaitable[bool]]  # one request; True when answered well
Connect = Callable[[], Awaitable[Call]]  # opens one client


@dataclass(frozen=True)
class Load:
    requests: int
    failed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def closed_loop(connect: Connect, clients: int, seconds: float) -> Load:
    """``connect`` opens one client and returns its ``call`` (True: answered well). Each
    client calls in a loop; what is answered after the warm-up and before the end counts."""
    calls = [await connect() for _ in range(clients)]
    started = time.perf_counter()
    begin, end = started + WARM_UP_S, started + WARM_UP_S + seconds
    counted = [0] * clients
    failed = [0] * clients

    async def run(i: int) -> None:
        call = calls[i]
        while (now := time.perf_counter()) < end:
            ok = await call()
            if now >= begin:
                counted[i] += 1
                failed[i] += not ok

    await asyncio.gather(*(run(i) for i in range(clients)))
    return Load(sum(counted), sum(failed), seconds)


def http_post(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> Connect:
    """A ``connect`` for ``closed_loop``: one keep-alive connection posting ``body``."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def connect() -> Call:
        reader, writer = await asyncio.open_connection(host, port)

        async def call() -> bool:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = _content_length(head)
            if length is not None:
                await reader.readexactly(length)
            else:
                await _read_chunked(reader)
            return status == 200

        return call

    return connect


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return
