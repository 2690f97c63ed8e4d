"""The learner reaches Kafka only through the TLS + SASL front: it restores, catches up and
joins its feedback group as alice with SCRAM-SHA-256; refused, it says why in its retry line
and keeps trying, and the password shows nowhere."""

from __future__ import annotations

import asyncio
import logging

import pytest

from service.learning.process import LearnerProcess
from tests.kafka_front.certs import Pki
from tests.kafka_front.clients import StartFront, secured
from tests.learner_helpers import options
from tests.service_helpers import until


async def test_the_learner_starts_and_stops_through_the_front(
    start_front: StartFront, pki: Pki
) -> None:
    front = await start_front()
    settings = secured(front, pki, learner_http_port=0, kafka_sasl_mechanism="SCRAM-SHA-256")
    learner = LearnerProcess(settings, options())
    try:
        assert await learner.runner.start()
        assert learner.is_live()
    finally:
        await learner.runner.stop()
    assert {s.user for s in front.sessions if s.relayed} == {"alice"}
    mechanisms = {s.mechanism for s in front.sessions if s.relayed}
    assert mechanisms == {"SCRAM-SHA-256"}


async def test_the_learner_refused_says_why_and_keeps_trying(
    start_front: StartFront, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    front = await start_front()
    settings = secured(front, pki, learner_http_port=0, kafka_sasl_password="not-alices")
    learner = LearnerProcess(settings, options())
    starting = asyncio.create_task(learner.runner.start())

    def said_why() -> bool:
        return any(
            "KafkaUnreachableError" in r.getMessage()
            and "SaslAuthenticationFailed" in r.getMessage()
            for r in caplog.records
            if r.name == "service.parts"
        )

    try:
        await until(said_why, timeout_s=30, what="the learner's retry line naming the cause")
        assert not starting.done()
    finally:
        learner.runner.request_stop()
        assert await asyncio.wait_for(starting, 30) is False
        await learner.runner.stop()
    assert "not-alices" not in caplog.text
