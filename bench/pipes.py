"""Baselines that run in their own process, like the service: the bare pipe (Kafka in, Kafka
out, no model) and the naive per-record loop. `python -m bench.pipes bare|naive ...`."""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np
import orjson
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from service.kafka.clients import make_data_consumer, make_producer
from service.settings import Settings
from service.wine import WINE_FIELDS


async def bare_pipe(settings: Settings, count: int) -> None:
    """The ceiling: move each record's bytes to the output topic, batch by batch, committing
    after the acknowledgements — the service's delivery discipline without decoding or a model."""
    consumer = make_data_consumer(settings)
    producer = make_producer(settings)
    consumer.subscribe(settings.data_topics)
    await consumer.start()
    await producer.start()
    moved = 0
    try:
        while moved < count:
            batches = await consumer.getmany(timeout_ms=100, max_records=settings.max_batch_size)
            futures = []
            offsets = {}
            for tp, records in batches.items():
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
    parser.add_argument("kind", choices=["bare", "naive"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--model")
    args = parser.parse_args()
    settings = Settings()
    started = time.monotonic()
    if args.kind == "bare":
        asyncio.run(bare_pipe(settings, args.count))
    else:
        asyncio.run(naive_loop(settings, args.count, args.model))
    print(f"{args.kind}: {args.count} records in {time.monotonic() - started:.2f}s", flush=True)


if __name__ == "__main__":
    main()
