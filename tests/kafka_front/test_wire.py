"""The front driven frame by frame over TLS, for what aiokafka does not send against this
broker: SaslHandshake v0 followed by bare tokens (Kafka before 1.0, which a client uses when
the broker allows no SaslHandshake v1), and requests that must end the connection before
authentication."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiokafka.helpers import create_ssl_context

from tests.kafka_front.certs import Pki
from tests.kafka_front.clients import StartFront
from tests.kafka_front.front import KafkaFront

pytestmark = pytest.mark.kafka


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def string(text: str) -> bytes:
    return struct.pack(">h", len(text)) + text.encode()


def request(api_key: int, api_version: int, body: bytes = b"", correlation_id: int = 1) -> bytes:
    """A request with header v1: api key, version, correlation id, client id."""
    header = struct.pack(">hhi", api_key, api_version, correlation_id) + string("by-hand")
    return frame(header + body)


async def connect(front: KafkaFront, pki: Pki) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = create_ssl_context(cafile=str(pki.ca))
    return await asyncio.open_connection(front.host, front.port, ssl=context)


async def answer(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


async def test_handshake_v0_then_a_bare_plain_token_authenticates_and_relays(
    start_front: StartFront, pki: Pki
) -> None:
    front = await start_front(mechanisms=("PLAIN",))
    reader, writer = await connect(front, pki)

    writer.write(request(17, 0, string("PLAIN")))
    handshake = await answer(reader)
    writer.write(frame(b"\0alice\0alice-secret"))
    authenticated = await answer(reader)
    writer.write(request(18, 0, correlation_id=2))  # now relayed: the broker answers
    versions = await answer(reader)
    writer.close()
    await writer.wait_closed()

    assert handshake == struct.pack(">ihi", 1, 0, 1) + string("PLAIN")
    assert authenticated == b""  # PLAIN's answer, bare as well
    correlation_id, error, count = struct.unpack_from(">ihi", versions)
    assert (correlation_id, error) == (2, 0) and count > 0
    await front.close()
    [session] = front.sessions
    assert (session.frames, session.user, session.relayed) == ([(17, 0)], "alice", True)


REFUSALS = {
    "metadata": ([request(3, 0, struct.pack(">i", 0))], "api key 3 v0 before authentication"),
    "authenticate-first": (
        [request(36, 1, frame(b"\0alice\0alice-secret"))],
        "api key 36 v1 before authentication",
    ),
    "api-versions-mid-exchange": (
        [request(17, 1, string("PLAIN")), request(18, 0)],
        "api key 18 v0 before authentication",
    ),
    "wrong-bare-token": (
        [request(17, 0, string("PLAIN")), frame(b"\0alice\0wrong")],
        "Authentication failed: Invalid username or password",
    ),
    "oversized": ([struct.pack(">i", 1 << 24)], f"frame of {1 << 24} bytes before authentication"),
}


@pytest.mark.parametrize(("frames", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_the_front_ends_the_connection_before_authentication(
    start_front: StartFront, pki: Pki, frames: list[bytes], reason: str
) -> None:
    front = await start_front()
    reader, writer = await connect(front, pki)

    writer.write(b"".join(frames))
    # Until the front closes (an answer to a handshake may come first); a front that kept
    # the connection open would fail this wait.
    await asyncio.wait_for(reader.read(-1), timeout=5)
    writer.close()

    await front.close()
    assert [(s.refused, s.relayed) for s in front.sessions] == [(reason, False)]
