"""Client factories with the settings tuned for a scoring service rather than client defaults:
the service's, the CLI's, and the learner's (so learning/ needs no Kafka client of its own).
Every Kafka client is made here or beside it in kafka/ (a test checks), and every one takes
its connection options from ``connection_options``: where the brokers are, and how to reach
them, is said in one place."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)

from service.kafka.seams import TopicReader
from service.settings import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """The options every client (producer, consumer, admin) shares: the one place that says
    how to reach the brokers, and how to prove who we are to them (TLS, SASL)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_uses_tls:
        options["ssl_context"] = tls_context(settings)
    if settings.kafka_uses_sasl:
        assert settings.kafka_sasl_password is not None  # the settings refuse it missing
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        # aiokafka names them "plain" for SCRAM too.
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the brokers against ``kafka_ssl_cafile`` (else the system's CAs), by host name
    unless told not to, and shows the client certificate where one is given (mutual TLS)."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **connection_options(settings),
        "client_id": "modelserve",
        # Outputs count as delivered only when every in-sync replica has them: offsets are
        # committed on that acknowledgement.
        "acks": "all",
        # A few ms of linger fills producer batches under load and costs little latency.
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30_000,
        # aiokafka only speaks InitProducerId v0, which some Kafka-compatible brokers refuse;
        # at-least-once does not need the idempotent producer.
        "enable_idempotence": False,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_control_producer(settings: Settings) -> AIOKafkaProducer:
    """A producer for the control topic (the CLI's, a learner's): models inline can be
    megabytes, and the service accepts up to ``max_descriptor_bytes``."""
    return make_producer(settings, max_request_size=settings.max_descriptor_bytes + 1024)


def make_data_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **connection_options(settings),
        client_id="modelserve-data",
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Brokers answer a fetch as soon as data is there, but not every Kafka-compatible one
        # does: a short wait bounds the latency a record can pick up here (default 500 ms).
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        max_poll_records=settings.max_batch_size,
        # A crashed member holds its partitions until the session times out, and a rebalance
        # waits for members that do not rejoin up to the rebalance timeout: both bound how
        # long a SIGKILL stops a share of the stream.
        **session_options(settings),
        rebalance_timeout_ms=settings.rebalance_timeout_ms,
    )


def session_options(settings: Settings) -> dict[str, Any]:
    """A group member's session (the data consumers', the learner's): ``session_timeout_ms``,
    with four heartbeats to it whatever its length, so that a late heartbeat or two does not
    lose the member its partitions. (A floor of 1 s on the heartbeat changed nothing for a
    session of 4 s and more, Kafka's default minimum being 6 s, and left a shorter one with
    one or two.)"""
    return {
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.session_timeout_ms // 4,
    }


async def open_topic_reader(
    settings: Settings, topic: str, fetch_max_wait_ms: int = 100
) -> AIOKafkaConsumer:
    """A started consumer, outside any group, on every partition of ``topic`` from its first
    offset: for reading a whole topic (events, predictions) rather than sharing it."""
    consumer = AIOKafkaConsumer(
        **connection_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        await assign_whole_topic(consumer, topic)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def assign_whole_topic(consumer: TopicReader, topic: str) -> list[TopicPartition]:
    """Assigns a started consumer every partition of ``topic``, from its first offset."""
    await consumer.topics()  # fetches metadata, so the partitions are known
    partitions = consumer.partitions_for_topic(topic) or {0}
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    await consumer.seek_to_beginning()
    return assigned


def make_stats_consumer(settings: Settings) -> AIOKafkaConsumer:
    # No group: every process reads every snapshot (ClusterStats assigns the partitions).
    return AIOKafkaConsumer(
        **connection_options(settings),
        client_id="modelserve-stats",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=500,
    )


def make_control_consumer(settings: Settings) -> AIOKafkaConsumer:
    # No group: every replica reads every partition of the control log from the start.
    return AIOKafkaConsumer(
        **connection_options(settings),
        client_id="modelserve-control",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
        max_partition_fetch_bytes=settings.max_descriptor_bytes + 1024,
        fetch_max_bytes=settings.max_descriptor_bytes + 1024,
    )


# -- the learner's consumers (learning/part.py): each returned started, or stopped on failure --


async def open_feedback_consumer(
    settings: Settings, resume_at: Callable[[], dict[int, int]]
) -> AIOKafkaConsumer:
    """A member of ``learner_group_id`` on the feedback topic. ``resume_at`` is the learner's
    next offset per partition (what it learned up to, restored or since): an assigned
    partition starts there, not where the group's commits say."""
    consumer = AIOKafkaConsumer(
        **connection_options(settings),
        group_id=settings.learner_group_id,
        client_id="modelserve-learner",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        **session_options(settings),
    )
    consumer.subscribe([settings.feedback_topic], listener=_ResumeAt(consumer, resume_at))
    await _started(consumer)
    return consumer


async def open_recent_reader(
    settings: Settings, topics: Sequence[str], since_s: float
) -> AIOKafkaConsumer:
    """Every partition of ``topics``, outside any group, from ``since_s`` seconds back (from
    the start where the broker cannot say where that is; from the end of a partition with
    nothing that recent)."""
    consumer = AIOKafkaConsumer(
        **connection_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await _started(consumer)
    try:
        await consumer.topics()  # fetches metadata, so the partitions are known
        assignment = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or {0})
        ]
        consumer.assign(assignment)
        since = int((time.time() - since_s) * 1000)
        try:
            found = await consumer.offsets_for_times({tp: since for tp in assignment})
            for tp in assignment:
                position = found.get(tp)
                if position is None:
                    await consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, position.offset)
        except Exception:
            await consumer.seek_to_beginning(*assignment)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def _started(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise


class _ResumeAt(ConsumerRebalanceListener):  # type: ignore[misc]
    """Feedback resumes where the restored version stopped, not where the group did."""

    def __init__(self, consumer: AIOKafkaConsumer, offsets: Callable[[], dict[int, int]]) -> None:
        self._consumer = consumer
        self._offsets = offsets

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        offsets = self._offsets()
        for tp in assigned:
            offset = offsets.get(tp.partition)
            if offset is not None:
                self._consumer.seek(tp, offset)
