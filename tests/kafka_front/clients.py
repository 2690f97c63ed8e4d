"""aiokafka's own clients, configured directly (not through service/), against a front: the
options for each security protocol, a round trip through a consumer group, and the cause a
client gave up on."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from aiokafka.helpers import create_ssl_context

from service.kafka.clients import session_options
from service.settings import Settings
from tests.kafka_front.certs import Pki
from tests.kafka_front.front import KafkaFront
from tests.kafka_helpers import group_timing, isolated_settings

# The users every SASL front takes, unless a test names others.
USERS = {"alice": "alice-secret", "bob": "bob-secret"}
# The start_front fixture (conftest.py): options in, a started front (and broker) out.
StartFront = Callable[..., Awaitable[KafkaFront]]


def tls_options(
    front: KafkaFront, cafile: Path, certfile: Path | None = None, keyfile: Path | None = None
) -> dict[str, Any]:
    """security_protocol SSL: TLS only, with a client certificate when one is given."""
    context = create_ssl_context(
        cafile=str(cafile),
        certfile=str(certfile) if certfile else None,
        keyfile=str(keyfile) if keyfile else None,
    )
    return {
        "bootstrap_servers": front.address,
        "security_protocol": "SSL",
        "ssl_context": context,
    }


def sasl_options(
    front: KafkaFront, cafile: Path, mechanism: str, user: str, password: str
) -> dict[str, Any]:
    return {
        **tls_options(front, cafile),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


async def round_trip(
    options: dict[str, Any], count: int = 5, timeout_s: float = 30.0, group: bool = True
) -> list[bytes]:
    """Creates a topic, produces ``count`` records and reads them back, in a consumer group
    (the consumer then connects to its group coordinator too) or, with ``group=False``, from
    the partition assigned (what the group costs, a join of some seconds on the embedded
    broker, is paid once per mechanism family, not by every test). Returns the values read,
    in order."""
    uid = uuid.uuid4().hex[:8]
    topic = f"secured-{uid}"
    admin = AIOKafkaAdminClient(client_id="admin", **options)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(client_id="producer", enable_idempotence=False, **options)
    await producer.start()
    try:
        for index in range(count):
            await producer.send_and_wait(topic, f"record-{index}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        *([topic] if group else []),
        client_id="consumer",
        group_id=f"secured-{uid}" if group else None,
        auto_offset_reset="earliest",
        **(session_options(Settings(**group_timing())) if group else {}),
        **options,
    )
    await consumer.start()
    if not group:
        consumer.assign([TopicPartition(topic, 0)])
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(values) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                values.extend(record.value for record in batch)
        if group:
            await consumer.commit()  # through the coordinator: the group really formed
    finally:
        await consumer.stop()
    return values


async def refused_start(options: dict[str, Any]) -> float:
    """Starts a producer that must fail to connect; returns the seconds failing took."""
    producer = AIOKafkaProducer(**options)
    started = time.monotonic()
    try:
        with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
            await producer.start()
        return time.monotonic() - started
    finally:
        await producer.stop()


def connect_failures(caplog: pytest.LogCaptureFixture, front: KafkaFront) -> list[BaseException]:
    """Why aiokafka could not connect to the front: its client logs the error of each failed
    bootstrap (``Unable connect to "host:port": error``) and raises only KafkaConnectionError."""
    return [
        record.args[2]
        for record in caplog.records
        if record.levelno == logging.ERROR
        and isinstance(record.args, tuple)
        and record.args[:2] == (front.host, front.port)
        and isinstance(record.args[2], BaseException)
    ]


def secured(front: KafkaFront, pki: Pki | None, **overrides: Any) -> Settings:
    """Isolated topics behind ``front``: SCRAM-SHA-512 as alice over TLS, trusting the test CA
    (``pki`` None: the system's CAs only)."""
    fields: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "alice",
        "kafka_sasl_password": USERS["alice"],
        "http_host": "127.0.0.1",
        "http_port": 0,
        **overrides,
    }
    if pki is not None:
        fields["kafka_ssl_cafile"] = str(pki.ca)
    return isolated_settings(front.address, **fields)
