"""Run by the ``oip-clients`` peer environment's Python, never imported by the service's:
librdkafka (through confluent-kafka's Producer and Consumer), a Kafka client the project did
not write, producing records and reading topics back.

    python -I rdkafka_client.py  < {"bootstrap": "host:port",
                                    "produce": {"topic": ..., "records": [{"key", "value",
                                                "headers": [[name, value], ...]}, ...]},
                                    "consume": [{"topic": ..., "count": K, "timeout_s": T,
                                                 "linger_s": L, "group": G,
                                                 "key_prefix": P}, ...],
                                    "config": {librdkafka property: value, ...}}

Every key, value and header value is base64 (``null`` for a missing key or value), in and
out. ``produce`` (optional) is sent first, each record acknowledged by the broker (or its
error reported); then each ``consume`` reads its topic from the beginning until it holds
``count`` records or ``timeout_s`` passes, and reads on for ``linger_s`` more (to see records
that should not be there); with ``key_prefix`` (base64), only the records whose key starts
with it are kept and counted. Without ``group`` it assigns every partition itself (no group
join); with one it subscribes as a member of that group. Prints ``{"produced": n, "errors":
[...], "consumed": {topic: [{"key", "value", "headers", "partition", "offset"}]}, "seconds":
{...}, "librdkafka": version}``."""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any

from confluent_kafka import (  # type: ignore[import-not-found]
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
    libversion,
)

Record = dict[str, Any]


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def produce(config: dict[str, Any], topic: str, records: list[Record]) -> tuple[int, list[str]]:
    """Sends every record; (how many the broker acknowledged, the errors of the others)."""
    producer = Producer(config)
    acknowledged = 0
    errors: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        nonlocal acknowledged
        if error is None:
            acknowledged += 1
        else:
            errors.append(str(error))

    for record in records:
        headers = [(name, unb64(value)) for name, value in record.get("headers", [])]
        while True:
            try:
                producer.produce(
                    topic,
                    value=unb64(record.get("value")),
                    key=unb64(record.get("key")),
                    headers=headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60.0)
    if left:
        errors.append(f"{left} records not delivered in 60 s")
    return acknowledged, errors


def consume(config: dict[str, Any], asked: dict[str, Any]) -> list[Record]:
    """The topic's records from the beginning, until ``count`` or ``timeout_s``, then
    ``linger_s`` more."""
    topic: str = asked["topic"]
    count: int = asked["count"]
    deadline = time.monotonic() + float(asked.get("timeout_s", 60.0))
    linger_s = float(asked.get("linger_s", 0.0))
    group: str | None = asked.get("group")
    prefix = unb64(asked.get("key_prefix")) or b""
    consumer = Consumer(
        {
            **config,
            "group.id": group or f"rdkafka-client-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    records: list[Record] = []
    try:
        if group is None:
            consumer.assign(
                [
                    TopicPartition(topic, p, OFFSET_BEGINNING)
                    for p in _partitions(consumer, topic, deadline)
                ]
            )
        else:
            consumer.subscribe([topic])
        until = deadline
        while time.monotonic() < until:
            for message in consumer.consume(num_messages=1000, timeout=0.2):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(f"reading {topic}: {error}")
                if not (message.key() or b"").startswith(prefix):
                    continue
                records.append(
                    {
                        "key": b64(message.key()),
                        "value": b64(message.value()),
                        "headers": [[k, b64(v)] for k, v in message.headers() or []],
                        "partition": message.partition(),
                        "offset": message.offset(),
                    }
                )
            if len(records) >= count and until == deadline:
                until = time.monotonic() + linger_s
    finally:
        consumer.close()
    return records


def _partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    """The topic's partitions, once the broker knows it."""
    while True:
        metadata = consumer.list_topics(topic, timeout=5.0).topics.get(topic)
        if metadata is not None and metadata.error is None and metadata.partitions:
            return sorted(metadata.partitions)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions: {metadata and metadata.error}")
        time.sleep(0.2)


def main() -> None:
    asked = json.load(sys.stdin)
    config = {"bootstrap.servers": asked["bootstrap"], **asked.get("config", {})}
    answer: dict[str, Any] = {"librdkafka": libversion()[0], "seconds": {}}
    if "produce" in asked:
        started = time.monotonic()
        sent = asked["produce"]
        answer["produced"], answer["errors"] = produce(config, sent["topic"], sent["records"])
        answer["seconds"]["produce"] = time.monotonic() - started
    answer["consumed"] = {}
    for each in asked.get("consume", []):
        started = time.monotonic()
        answer["consumed"][each["topic"]] = consume(config, each)
        answer["seconds"][each["topic"]] = time.monotonic() - started
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
