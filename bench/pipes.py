"""Baselines that run in their own process, like the service: the bare pipe (Kafka in, Kafka
out, no model) and the naive per-record loop.

`python -m bench.pipes bare|bare-per-record|naive --count N [--model PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from service.kafka.clients import make_data_consumer, make_producer
from service.kafka.partitioning import partitions_for_keys
from service.settings import Settings
from service.wine import WINE_FIELDS


async def bare_pipe(settings: Settings, count: int, batched: bool = True) -> None:
    """The ceiling: move each record's bytes to the output topic, batch by batch, committing
    after the acknowledgements — the service's delivery discipline without decoding or a model.

    ``batched`` appends the records to one producer batch per output partition (partitioned by
    key, as the service does), the fastest way aiokafka offers; otherwise one ``send`` per
    record, the way most clients are written."""
    consumer = make_data_consumer(settings)
    producer = make_producer(settings)
    consumer.subscribe(settings.data_topics)
    await consumer.start()
    await producer.start()
    partitions = len(await producer.partitions_for(settings.output_topic))
    moved = 0
    try:
        while moved < count:
            batches = await consumer.getmany(timeout_ms=100, max_records=settings.max_batch_size)
            futures = []
            offsets = {}
            for tp, records in batches.items():
                if batched:
                    futures += await _send_batched(
                        producer, settings.output_topic, records, partitions
                    )
                else:
                    for record in records:
                        futures.append(
                            await producer.send(settings.output_topic, record.value, key=record.key)
                        )
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
                moved += len(records)
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit(offsets)
    finally:
        await consumer.stop()
        await producer.stop()


async def _send_batched(
    producer: AIOKafkaProducer, topic: str, records: list[Any], partitions: int
) -> list[asyncio.Future[Any]]:
    keys = [record.key for record in records]
    by_partition: dict[int, list[Any]] = {}
    for record, partition in zip(records, partitions_for_keys(keys, partitions, 0), strict=True):
        by_partition.setdefault(partition, []).append(record)
    futures = []
    for partition, members in by_partition.items():
        batch = producer.create_batch()
        for record in members:
            if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=record.key, value=record.value, timestamp=None)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def naive_loop(settings: Settings, count: int, model_path: str) -> None:
    """Consume one, score one, produce one, commit — the shape of a first attempt."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    consumer = make_data_consumer(settings)
    producer = make_producer(settings, linger_ms=0)
    consumer.subscribe(settings.data_topics)
    await consumer.start()
    await producer.start()
    try:
        for _ in range(count):
            record = await consumer.getone()
            fields = orjson.loads(record.value)
            x = np.array([[fields[f] for f in WINE_FIELDS]], dtype=np.float32)
            label, _ = session.run(None, {"X": x})
            out = {"id": record.key.decode(), "result": {"label": str(label[0])}}
            await producer.send_and_wait(settings.output_topic, orjson.dumps(out), key=record.key)
            await consumer.commit(
                {TopicPartition(record.topic, record.partition): record.offset + 1}
            )
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "bare-per-record", "naive"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--model")
    args = parser.parse_args()
    settings = Settings()
    started = time.monotonic()
    if args.kind.startswith("bare"):
        asyncio.run(bare_pipe(settings, args.count, batched=args.kind == "bare"))
    else:
        asyncio.run(naive_loop(settings, args.count, args.model))
    print(f"{args.kind}: {args.count} records in {time.monotonic() - started:.2f}s", flush=True)


if __name__ == "__main__":
    main()
