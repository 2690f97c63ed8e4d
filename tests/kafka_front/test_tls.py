"""TLS at the front, with aiokafka's clients configured directly over a real broker: TLS only
and mutual TLS carry a round trip; a client that trusts another CA, one without a client
certificate where one is required, and one that speaks plaintext never get through."""

from __future__ import annotations

import ssl

import pytest

from tests.kafka_front.certs import Pki
from tests.kafka_front.clients import (
    USERS,
    StartFront,
    connect_failures,
    refused_start,
    round_trip,
    sasl_options,
    tls_options,
)

pytestmark = pytest.mark.kafka


async def test_tls_only_carries_a_round_trip(start_front: StartFront, pki: Pki) -> None:
    front = await start_front(sasl=False)

    values = await round_trip(tls_options(front, pki.ca), group=False)

    assert values == [f"record-{i}".encode() for i in range(5)]
    await front.close()
    # Relayed from the first byte: ApiVersions and all went to the broker through TLS.
    assert len(front.sessions) >= 4 and all(
        s.relayed and not s.frames and s.user is None for s in front.sessions
    ), front.sessions


async def test_mutual_tls_carries_a_round_trip_with_a_client_certificate(
    start_front: StartFront, pki: Pki
) -> None:
    front = await start_front(sasl=False, require_client_cert=True)

    # No group: the service's own test over mutual TLS joins one (test_service_through...).
    values = await round_trip(
        tls_options(front, pki.ca, pki.client_cert, pki.client_key), group=False
    )

    assert values == [f"record-{i}".encode() for i in range(5)]
    await front.close()
    assert front.sessions and all(s.relayed for s in front.sessions), front.sessions


async def test_mutual_tls_refuses_a_client_without_a_certificate(
    start_front: StartFront, pki: Pki
) -> None:
    front = await start_front(sasl=False, require_client_cert=True)

    seconds = await refused_start(tls_options(front, pki.ca))

    assert seconds < 5
    await front.close()
    assert front.sessions and all(
        not s.relayed and s.refused and "did not return a certificate" in s.refused
        for s in front.sessions
    ), front.sessions


async def test_a_client_trusting_a_foreign_ca_fails_the_tls_handshake(
    start_front: StartFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    front = await start_front()

    options = sasl_options(front, pki.foreign_ca, "PLAIN", "alice", USERS["alice"])
    seconds = await refused_start(options)

    assert seconds < 5
    failures = connect_failures(caplog, front)
    assert failures and all(isinstance(f, ssl.SSLCertVerificationError) for f in failures)
    await front.close()
    # The client gave up in the handshake (and dropped the connection): it never sent a Kafka
    # frame, let alone a password.
    assert front.sessions and all(
        not s.frames and not s.relayed and s.refused and s.refused.startswith("TLS:")
        for s in front.sessions
    ), front.sessions


async def test_a_plaintext_client_is_refused(start_front: StartFront, pki: Pki) -> None:
    front = await start_front()

    seconds = await refused_start({"bootstrap_servers": front.address})

    assert seconds < 5
    await front.close()
    # Its ApiVersions request was no TLS record: OpenSSL refused it, not a lost connection.
    assert front.sessions and all(
        not s.frames and not s.relayed and s.refused and "SSLError" in s.refused
        for s in front.sessions
    ), front.sessions
