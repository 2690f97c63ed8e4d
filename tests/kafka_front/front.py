"""A secured front for a plaintext broker: Kafka's TLS and SASL, done here because the
embedded test broker (Tansu) can do neither.

The front listens with TLS and, when it has an Authenticator, performs Kafka's SASL exchange
itself: ``ApiVersions`` (which Kafka answers before authentication) goes to the broker and its
answer back; ``SaslHandshake`` and ``SaslAuthenticate`` are answered here; anything else
before authentication closes the connection. Once the client is authenticated — or at once,
with TLS only — the front relays bytes both ways until either side closes. The broker
advertises the front as itself, so every connection a client makes comes through here.

Each connection leaves a Session in ``front.sessions``: what the client sent before
authentication, who it became, or why it was refused — for the tests to check the path."""

from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass, field

from tests.kafka_front.sasl import AuthenticationFailed, Authenticator, Exchange

SASL_HANDSHAKE, API_VERSIONS, SASL_AUTHENTICATE = 17, 18, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58
# Nothing a client sends before authenticating comes near this; a bigger size is not Kafka.
MAX_FRAME_BEFORE_AUTH = 64 * 1024
TLS_HANDSHAKE_TIMEOUT_S = 10.0


class Refused(Exception):
    """The connection ends before any relaying; the text says why (Session.refused)."""


@dataclass
class Session:
    """What the front saw of one connection."""

    frames: list[tuple[int, int]] = field(default_factory=list)  # (api key, version), pre-auth
    client_id: str | None = None
    mechanism: str | None = None
    user: str | None = None
    refused: str | None = None
    relayed: bool = False


@dataclass(frozen=True)
class Request:
    """A request frame's header (v1: api key, version, correlation id, client id) and the
    bytes after it. The flexible header (v2) adds tagged fields; none of the requests whose
    body the front reads has it (SaslAuthenticate v2 would, and is refused)."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: bytes

    @classmethod
    def parse(cls, frame: bytes) -> Request:
        api_key, api_version, correlation_id, length = struct.unpack_from(">hhih", frame)
        client_id = None if length < 0 else frame[10 : 10 + length].decode()
        return cls(api_key, api_version, correlation_id, client_id, frame[10 + max(length, 0) :])


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    if not 0 <= size <= MAX_FRAME_BEFORE_AUTH:
        raise Refused(f"frame of {size} bytes before authentication")
    return await reader.readexactly(size)


async def write_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    writer.write(struct.pack(">i", len(frame)) + frame)
    await writer.drain()


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def handshake_response(error: int, mechanisms: tuple[str, ...]) -> bytes:
    return struct.pack(">hi", error, len(mechanisms)) + b"".join(map(_string, mechanisms))


def authenticate_response(version: int, error: int, message: str | None, token: bytes) -> bytes:
    body = struct.pack(">h", error) + _string(message) + struct.pack(">i", len(token)) + token
    return body + (struct.pack(">q", 0) if version >= 1 else b"")  # v1: session lifetime


async def _respond(writer: asyncio.StreamWriter, request: Request, body: bytes) -> None:
    """A response: header v0 (the correlation id), then the body."""
    await write_frame(writer, struct.pack(">i", request.correlation_id) + body)


async def _handshake(
    authenticator: Authenticator, session: Session, request: Request, writer: asyncio.StreamWriter
) -> Exchange:
    """SaslHandshake (v0 or v1, the only versions Kafka has): the mechanism the client
    names, if it is enabled."""
    if request.api_version > 1:
        raise Refused(f"SaslHandshake v{request.api_version} is not Kafka")
    (length,) = struct.unpack_from(">h", request.body)
    mechanism = request.body[2 : 2 + length].decode()
    enabled = authenticator.mechanisms
    error = 0 if mechanism in enabled else UNSUPPORTED_SASL_MECHANISM
    await _respond(writer, request, handshake_response(error, enabled))
    if error:
        raise Refused(f"mechanism {mechanism} is not enabled")
    session.mechanism = mechanism
    return authenticator.exchange(mechanism)


async def _authenticate_step(
    exchange: Exchange, request: Request, writer: asyncio.StreamWriter
) -> bool:
    """One SaslAuthenticate round (v0 or v1: the versions aiokafka knows); True once the
    client is authenticated. A failure is answered as Kafka does, then the connection ends."""
    if request.api_version > 1:
        raise Refused(f"SaslAuthenticate v{request.api_version} is not supported here")
    (length,) = struct.unpack_from(">i", request.body)
    try:
        token = exchange.step(request.body[4 : 4 + length])
    except AuthenticationFailed as exc:
        failure = authenticate_response(
            request.api_version, SASL_AUTHENTICATION_FAILED, str(exc), b""
        )
        await _respond(writer, request, failure)
        raise Refused(str(exc)) from exc
    await _respond(writer, request, authenticate_response(request.api_version, 0, None, token))
    return exchange.user is not None


async def _bare_tokens(
    exchange: Exchange, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """After SaslHandshake v0 (Kafka before 1.0) the tokens come as bare frames, without a
    request header, and a failure is told only by closing the connection."""
    while exchange.user is None:
        try:
            token = exchange.step(await read_frame(reader))
        except AuthenticationFailed as exc:
            raise Refused(str(exc)) from exc
        await write_frame(writer, token)
    session.user = exchange.user


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies until the reader ends; closing the writer then ends the pipe the other way."""
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # a side reset the connection: the close below tells the other side
    finally:
        writer.close()


class KafkaFront:
    """``await KafkaFront(upstream, tls, authenticator).start()`` listens on a free port of
    ``host``; ``front.address`` is what the broker should advertise. Without an
    authenticator the front does TLS only (security_protocol SSL)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        tls: ssl.SSLContext,
        authenticator: Authenticator | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = 0
        self.sessions: list[Session] = []
        self._upstream = upstream
        self._tls = tls
        self._authenticator = authenticator
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> KafkaFront:
        # TLS is started per connection (not by the server) so that a failed handshake is
        # seen here and recorded, rather than only logged by the event loop.
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self, grace_s: float = 5.0) -> None:
        """Stops listening and waits up to ``grace_s`` for the open connections to end, so
        that every Session is complete; cancels what is left."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=grace_s)
        for task in set(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = Session()
        self.sessions.append(session)
        try:
            await self._session(session, reader, writer)
        except Refused as exc:
            session.refused = str(exc)
        except (struct.error, UnicodeDecodeError) as exc:
            session.refused = f"malformed request: {exc}"
        except (OSError, asyncio.IncompleteReadError) as exc:
            session.refused = f"connection lost: {exc!r}"
        finally:
            writer.close()
            self._connections.discard(task)

    async def _session(
        self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await writer.start_tls(self._tls, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
        except OSError as exc:  # ssl.SSLError and TimeoutError are OSErrors
            raise Refused(f"TLS: {exc!r}") from exc
        upstream = await asyncio.open_connection(*self._upstream)
        try:
            if self._authenticator is not None:
                await self._authenticate(self._authenticator, session, (reader, writer), upstream)
            session.relayed = True
            await asyncio.gather(_pipe(reader, upstream[1]), _pipe(upstream[0], writer))
        finally:
            upstream[1].close()

    async def _authenticate(
        self,
        authenticator: Authenticator,
        session: Session,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        """Returns once the client is authenticated; raises Refused when it is not."""
        reader, writer = client
        exchange: Exchange | None = None
        while True:
            frame = await read_frame(reader)
            request = Request.parse(frame)
            session.frames.append((request.api_key, request.api_version))
            session.client_id = request.client_id
            if request.api_key == API_VERSIONS and exchange is None:
                await write_frame(upstream[1], frame)
                await write_frame(writer, await read_frame(upstream[0]))
            elif request.api_key == SASL_HANDSHAKE and exchange is None:
                exchange = await _handshake(authenticator, session, request, writer)
                if request.api_version == 0:
                    await _bare_tokens(exchange, session, reader, writer)
                    return
            elif request.api_key == SASL_AUTHENTICATE and exchange is not None:
                if await _authenticate_step(exchange, request, writer):
                    session.user = exchange.user
                    return
            else:
                raise Refused(
                    f"api key {request.api_key} v{request.api_version} before authentication"
                )
