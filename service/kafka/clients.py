"""Client factories with the settings tuned for a scoring service rather than client defaults."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ..settings import Settings


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
        # Return fetches as soon as any data is there; the default 500 ms would be added to
        # the latency of every record at low rates.
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        max_poll_records=settings.max_batch_size,
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
