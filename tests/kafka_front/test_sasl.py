"""SASL_SSL through the front, with aiokafka's clients configured directly over a real broker:
each mechanism with the right credentials carries a round trip through a consumer group;
wrong credentials and a mechanism the front does not take fail fast, with the error a Kafka
broker would give."""

from __future__ import annotations

import pytest
from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

from tests.kafka_front.certs import Pki
from tests.kafka_front.clients import (
    USERS,
    StartFront,
    connect_failures,
    refused_start,
    round_trip,
    sasl_options,
)
from tests.kafka_front.sasl import MECHANISMS

pytestmark = pytest.mark.kafka

# What aiokafka 0.14 sends before it is authenticated, as (api key, version): ApiVersions v0,
# SaslHandshake v1 (Tansu's ApiVersions allows up to v1), then SaslAuthenticate v1 (Tansu
# allows v2, aiokafka knows up to v1) — once for PLAIN, twice for SCRAM's two rounds.
PLAIN_FRAMES = [(18, 0), (17, 1), (36, 1)]
SCRAM_FRAMES = [(18, 0), (17, 1), (36, 1), (36, 1)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_right_credentials_carry_a_round_trip_through_a_consumer_group(
    start_front: StartFront, pki: Pki, mechanism: str
) -> None:
    """Through a consumer group with PLAIN and SCRAM-SHA-512 (the service's own tests through
    the front use SCRAM-SHA-512 and PLAIN in groups too); SCRAM-SHA-256 reads its partition
    without one, the same handshake on every connection."""
    front = await start_front()
    group = mechanism != "SCRAM-SHA-256"

    values = await round_trip(
        sasl_options(front, pki.ca, mechanism, "alice", USERS["alice"]), group=group
    )

    assert values == [f"record-{i}".encode() for i in range(5)]
    await front.close()  # every connection has ended: the sessions are complete
    frames = PLAIN_FRAMES if mechanism == "PLAIN" else SCRAM_FRAMES
    assert front.sessions and all(
        s.frames == frames and s.mechanism == mechanism and s.user == "alice" and s.relayed
        for s in front.sessions
    ), front.sessions
    # The consumer's bootstrap, the broker from the metadata, and the group coordinator
    # (aiokafka opens it apart): all at the front, since the broker advertises the front.
    consumers = sum(s.client_id == "consumer" for s in front.sessions)
    assert consumers >= (3 if group else 2), front.sessions


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize(
    ("user", "password"), [("alice", "not-alice-secret"), ("mallory", USERS["alice"])]
)
async def test_wrong_credentials_fail_with_sasl_authentication_failed(
    start_front: StartFront,
    pki: Pki,
    caplog: pytest.LogCaptureFixture,
    mechanism: str,
    user: str,
    password: str,
) -> None:
    front = await start_front()

    seconds = await refused_start(sasl_options(front, pki.ca, mechanism, user, password))

    assert seconds < 5
    failures = connect_failures(caplog, front)
    assert failures and all(isinstance(f, SaslAuthenticationFailed) for f in failures), failures
    assert "Authentication failed" in str(failures[0])
    assert front.sessions and all(
        s.user is None and not s.relayed and s.refused for s in front.sessions
    ), front.sessions


async def test_a_mechanism_the_front_does_not_take_fails_with_unsupported_mechanism(
    start_front: StartFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    front = await start_front(mechanisms=("SCRAM-SHA-512",))

    seconds = await refused_start(sasl_options(front, pki.ca, "PLAIN", "alice", USERS["alice"]))

    assert seconds < 5
    failures = connect_failures(caplog, front)
    assert failures and all(isinstance(f, UnsupportedSaslMechanismError) for f in failures)
    assert [s.refused for s in front.sessions] == ["mechanism PLAIN is not enabled"]
