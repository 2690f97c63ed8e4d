"""A bound on request bodies, kept while they are read: a declared ``Content-Length`` over the
bound is answered 413 before a byte of the body is read, and a body sent without one (chunked)
is cut off with a 413 as soon as what arrived passes the bound. Reading first and measuring
after would let a few large requests at once take the process's memory.

The rest of a refused body is read and dropped (up to a bound) before the answer: a server that
closes a connection with unread bytes makes the kernel reset it, and the client then sees a
broken connection instead of the 413.

The 413 says why in the form of the path's protocol: ``{"error": ...}`` under ``/v2`` (the
Open Inference Protocol's, which ``tritonclient`` reads), ``{"detail": ...}`` elsewhere."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
# How much of a refused body is read and dropped so that the 413 reaches the client; past
# it, the connection is closed.
DRAIN_BYTES = 64 * 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: no request body larger than ``max_bytes`` reaches the app whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _drain(receive, declared)
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except _BodyTooLarge:
            if not started:
                await _drain(receive, DRAIN_BYTES)
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        key = "error" if is_oip_path(scope.get("path", "")) else "detail"
        body = orjson.dumps({key: f"request body exceeds {self.max_bytes} bytes"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, expected: int) -> None:
    """Read and drop what is left of the body, while it is no more than ``DRAIN_BYTES``."""
    if expected > DRAIN_BYTES:
        return
    dropped = 0
    while dropped <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))


def is_oip_path(path: str) -> bool:
    """Whether a path is the Open Inference Protocol's (``/v2`` and under), whose errors are
    ``{"error": ...}``."""
    return path == "/v2" or path.startswith("/v2/")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
