"""End-to-end latency at a steady rate, beside the broker's own one-hop floor."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from .harness import create_topics, serve, uid
from .service_runs import publish_model, wait_serving
from .workload import BenchModel, encode_records, wine_stream


async def latency(
    bootstrap: str, model: BenchModel | None, rate: int, seconds: float, **settings: Any
) -> dict[str, float]:
    """End to end at a steady rate: a producer, the service with ``model``, a consumer of the
    predictions. Latency is the consumer's receive time minus the moment the record was handed
    to the producer (one clock, one host). With ``model=None`` the consumer reads the data
    topic itself: one hop through the broker, the floor of any pipeline (the service adds a
    second hop)."""
    from aiokafka import AIOKafkaProducer

    from service.kafka.clients import open_topic_reader
    from service.settings import Settings

    control, data, output = f"models-{uid()}", f"lat-{uid()}", f"out-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, data, output)
    values = encode_records(wine_stream(int(rate * seconds), seed=4))
    sent_at: dict[bytes, float] = {}
    latencies: list[float] = []
    if model is not None:
        await publish_model(bootstrap, control, model)
        pipeline = serve(
            bootstrap,
            control_topic=control,
            data_topics=[data],
            output_topic=output,
            group_id=f"g-{uid()}",
            **settings,
        )
    else:
        output, pipeline = data, contextlib.nullcontext()
    with pipeline as running:
        if model is not None:
            async with httpx.AsyncClient(base_url=running.base_url) as client:
                await wait_serving(client)
        reader = await open_topic_reader(
            Settings(bootstrap_servers=bootstrap), output, fetch_max_wait_ms=5
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0
        )
        await producer.start()

        async def produce() -> None:
            started = time.monotonic()
            for i, value in enumerate(values):
                key = f"l{i}".encode()
                sent_at[key] = time.time() * 1000
                await producer.send(data, value, key=key)
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)

        async def observe() -> None:
            while len(latencies) < len(values):
                for records in (await reader.getmany(timeout_ms=200)).values():
                    now = time.time() * 1000
                    latencies.extend(now - sent_at[record.key] for record in records)

        try:
            await asyncio.wait_for(asyncio.gather(produce(), observe()), seconds * 5 + 60)
        finally:
            await producer.stop()
            await reader.stop()
    ordered = sorted(latencies[len(latencies) // 10 :])  # the first tenth warms up
    return {
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[int(len(ordered) * 0.99)],
        "n": len(ordered),
    }
