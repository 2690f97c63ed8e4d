"""Test helpers that talk to the real broker: produce, read a topic until a condition holds
(with a deadline, never a fixed sleep), and an isolated set of topics per test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from service.kafka.clients import open_topic_reader
from service.settings import Settings

# The embedded broker (Tansu) answers a JoinGroup only once half the group's session timeout
# has gone by, counted in steps of a second, so that members starting together land in one
# generation: with the default 10 s session every group join, and every rejoin of a
# rebalance, costs 5 s. A 2 s session makes that 1 s, the least it holds one. Kafka refuses a
# session under group.min.session.timeout.ms (6 s by default), so a broker named in
# MODELSERVE_TEST_BOOTSTRAP keeps the defaults.
EMBEDDED_GROUP_SESSION_MS = 2000


def group_timing() -> dict[str, Any]:
    """The session timeout of the tests' consumer groups on this broker: short on the
    embedded one (see EMBEDDED_GROUP_SESSION_MS), the default elsewhere."""
    if os.environ.get("MODELSERVE_TEST_BOOTSTRAP"):
        return {}
    return {"session_timeout_ms": EMBEDDED_GROUP_SESSION_MS}


def isolated_settings(bootstrap: str, **overrides: Any) -> Settings:
    """Settings whose topics and groups are unique to one test, so tests share a broker."""
    uid = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "control_topic": f"models-{uid}",
        "data_topics": [f"data-{uid}"],
        "output_topic": f"predictions-{uid}",
        "dlq_topic": f"data-{uid}.dlq",
        "events_topic": f"events-{uid}",
        "feedback_topic": f"feedback-{uid}",
        "stats_topic": f"stats-{uid}",
        "oip_input_topic": f"mlserver-input-{uid}",
        "oip_output_topic": f"mlserver-output-{uid}",
        "group_id": f"modelserve-{uid}",
        "learner_group_id": f"modelserve-learner-{uid}",
        **group_timing(),
        "http_host": "127.0.0.1",
        "http_port": 0,
        "grpc_port": 0,  # off: tests that serve gRPC pick a port of their own
        "topic_partitions": 2,
        "instance_id": f"test-{uid}",
        "drain_timeout_s": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


async def produce(
    bootstrap: str,
    topic: str,
    items: Sequence[tuple[bytes | None, bytes | None]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    await produce_each(bootstrap, topic, [(key, value, headers or []) for key, value in items])


async def produce_each(
    bootstrap: str,
    topic: str,
    items: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> None:
    """Records with headers of their own: (key, value, headers) each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=2)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in items
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def produce_json(
    bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any]]]
) -> None:
    await produce(bootstrap, topic, [(k.encode(), orjson.dumps(v)) for k, v in records])


async def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[Any]], bool],
    timeout_s: float = 60.0,
) -> list[Any]:
    """Every record of ``topic`` from the start, read until ``done(records)`` holds. Raises
    AssertionError with what was read if the deadline passes first."""
    consumer = await open_topic_reader(Settings(bootstrap_servers=bootstrap), topic)
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"condition not met on {topic} in {timeout_s}s; read {len(records)}"
                )
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return bytes(value).decode()
    return None


async def read_all(bootstrap: str, topic: str, quiet_ms: int = 1000) -> list[Any]:
    """Every record of ``topic`` there is: read until a fetch waits ``quiet_ms`` in vain. For
    checking that something did *not* arrive, after what should have arrived has."""
    consumer = await open_topic_reader(Settings(bootstrap_servers=bootstrap), topic)
    records: list[Any] = []
    try:
        while batches := await consumer.getmany(timeout_ms=quiet_ms):
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
