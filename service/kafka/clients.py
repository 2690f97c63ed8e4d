"""Client factories with the settings tuned for a scoring service rather than client defaults."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.settings import Settings


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
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


def make_data_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
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
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(1000, settings.session_timeout_ms // 4),
        rebalance_timeout_ms=settings.rebalance_timeout_ms,
    )


async def open_topic_reader(
    bootstrap_servers: str, topic: str, fetch_max_wait_ms: int = 100
) -> AIOKafkaConsumer:
    """A started consumer, outside any group, on every partition of ``topic`` from its first
    offset: for reading a whole topic (events, predictions) rather than sharing it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
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


async def assign_whole_topic(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
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
        bootstrap_servers=settings.bootstrap_servers,
        client_id="modelserve-stats",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=500,
    )


def make_control_consumer(settings: Settings) -> AIOKafkaConsumer:
    # No group: every replica reads every partition of the control log from the start.
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="modelserve-control",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
        max_partition_fetch_bytes=settings.max_descriptor_bytes + 1024,
        fetch_max_bytes=settings.max_descriptor_bytes + 1024,
    )
