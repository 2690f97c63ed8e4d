"""The Open Inference Protocol on Kafka measured, as MLServer speaks it: 20,000 one-row
InferenceRequests on an input topic (header ``mlserver-model: wine``), answered on an output
topic; requests/s over the span of the answers' timestamps. modelserve reads them in its
consumer group, batched; MLServer 1.7.1 (its own environment) with its Kafka server, which
schedules a task per message. Both start first and answer a probe, then the requests are sent
(MLServer's consumer has no group and reads from the topic's end)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from service.kafka.clients import open_topic_reader
from service.settings import Settings

from .harness import create_topics, serve, uid
from .oip_requests import one_row_request, wait_model
from .service_runs import publish_model
from .workload import BenchModel

MODEL_HEADER = b"wine"  # MLServer's model name; modelserve serves the same forest as "wine"

REQUESTS = 20_000
BENCH_KEY = "bench-"


async def send_requests(bootstrap: str, topic: str, value: bytes, count: int) -> None:
    """``count`` one-row requests for model ``wine`` (MLServer's header), keyed by their ids,
    as fast as one producer sends them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    try:
        headers = [("mlserver-model", MODEL_HEADER)]
        sent = [
            await producer.send(topic, value, key=f"{BENCH_KEY}{i}".encode(), headers=headers)
            for i in range(count)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def answer_rate(bootstrap: str, topic: str, count: int, budget_s: float = 180) -> float:
    """Requests/s answered: the answers keyed ``bench-*`` (a probe's is not counted) over the
    span of their timestamps, once all ``count`` are in, or what came in ``budget_s`` (a server
    that takes longer is measured on what it answered: MLServer takes the best part of an hour
    for all of them here)."""
    consumer = await open_topic_reader(Settings(bootstrap_servers=bootstrap), topic)
    stamps: list[int] = []
    deadline = time.monotonic() + budget_s
    try:
        while len(stamps) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                stamps += [r.timestamp for r in batch if (r.key or b"").startswith(b"bench-")]
    finally:
        await consumer.stop()
    if len(stamps) < 2:
        raise TimeoutError(f"{topic}: {len(stamps)} of {count} answers in {budget_s}s")
    if len(stamps) < count:
        print(f"    {len(stamps):,} of {count:,} answered in {budget_s:.0f} s", flush=True)
    return (len(stamps) - 1) / max((max(stamps) - min(stamps)) / 1000.0, 1e-3)


async def modelserve_rates(bootstrap: str, model: BenchModel, runs: int) -> list[float]:
    """One-row requests on a fresh input topic, answered by a fresh modelserve process each run
    (its group joined and a probe answered before the requests are sent)."""
    rates = []
    for _ in range(runs):
        control, inbox, outbox = f"models-{uid()}", f"oip-in-{uid()}", f"oip-out-{uid()}"
        await create_topics(bootstrap, control, inbox, outbox, partitions=1)
        await publish_model(
            bootstrap, control, model.__class__("wine", model.kind, model.path, model.labels)
        )
        with serve(
            bootstrap,
            control_topic=control,
            group_id=f"g-{uid()}",
            oip_input_topic=inbox,
            oip_output_topic=outbox,
        ) as running:
            await wait_model(running.base_url, "wine")
            await probe(bootstrap, inbox, outbox, one_row_request("X", "FP32"))
            await send_requests(bootstrap, inbox, one_row_request("X", "FP32"), REQUESTS)
            rates.append(await answer_rate(bootstrap, outbox, REQUESTS))
    return rates


async def mlserver_rates(bootstrap: str, runs: int, kind: str = "forest") -> list[float]:
    """The same requests through MLServer's Kafka server (it reads from the topic's end, so the
    requests are sent once it answers a probe), serving the same kind of model."""
    from tests.peers import KafkaTopics, peer_python, serving_mlserver, train_wine_model

    folder = Path(tempfile.mkdtemp())
    model = train_wine_model(peer_python("mlserver"), folder / "model", kind=kind)
    rates = []
    for run in range(runs):
        topics = KafkaTopics.fresh(bootstrap)
        async with serving_mlserver(model, folder / f"server-{run}", kafka=topics):
            await send_requests(
                bootstrap, topics.input, one_row_request("input-0", "FP64"), REQUESTS
            )
            rates.append(await answer_rate(bootstrap, topics.output, REQUESTS))
    return rates


async def probe(
    bootstrap: str, inbox: str, outbox: str, value: bytes, timeout_s: float = 120
) -> None:
    """Until one request is answered: the service reads the topic."""
    deadline = time.monotonic() + timeout_s
    consumer = await open_topic_reader(Settings(bootstrap_servers=bootstrap), outbox)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            inbox, value, key=b"probe", headers=[("mlserver-model", MODEL_HEADER)]
        )
        while time.monotonic() < deadline:
            if any((await consumer.getmany(timeout_ms=500)).values()):
                return
        raise TimeoutError(f"no answer on {outbox}")
    finally:
        await producer.stop()
        await consumer.stop()
