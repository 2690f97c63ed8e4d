"""HTTP to the workers over their Unix sockets: one client per worker, asked all at once for
what the supervisor merges, one at a time for what any worker answers alike."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

# What the supervisor merges answers at once; a worker slower than this is left out.
STATE_TIMEOUT_S = 10.0
# A request passed through (a large /predict) takes what the worker takes.
FORWARD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Answer:
    worker: int
    response: httpx.Response | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.status_code == 200


def unix_transports(sockets: Sequence[Path]) -> list[httpx.AsyncBaseTransport]:
    return [httpx.AsyncHTTPTransport(uds=str(path)) for path in sockets]


class WorkerClients:
    def __init__(self, transports: Sequence[httpx.AsyncBaseTransport]) -> None:
        self._clients = [
            httpx.AsyncClient(transport=t, base_url="http://worker", timeout=STATE_TIMEOUT_S)
            for t in transports
        ]
        self._turns = itertools.cycle(range(len(self._clients)))

    async def all(self, path: str) -> list[Answer]:
        """``GET path`` from every worker; one that does not answer (restarting, not yet
        up) is an answer with the error."""
        return list(await asyncio.gather(*(self._get(i, path) for i in range(len(self._clients)))))

    async def any(self, request: httpx.Request) -> httpx.Response | None:
        """The request to the workers in turn, starting with the next in the rotation. Only a
        worker that could not be reached is passed over for the next: one that took the
        request may have acted on it, and is not asked twice. None when none is reachable."""
        first = next(self._turns)
        for step in range(len(self._clients)):
            client = self._clients[(first + step) % len(self._clients)]
            try:
                return await client.send(request)
            except httpx.ConnectError:
                continue
        return None

    def build(
        self, method: str, path: str, content: bytes, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Request:
        return self._clients[0].build_request(
            method,
            path,
            content=content,
            headers=headers,
            timeout=httpx.Timeout(FORWARD_TIMEOUT_S, connect=STATE_TIMEOUT_S),
        )

    async def _get(self, index: int, path: str) -> Answer:
        try:
            return Answer(index, await self._clients[index].get(path))
        except httpx.HTTPError as exc:
            return Answer(index, None, f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
