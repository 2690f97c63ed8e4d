"""Delivery under crashes, graceful stops and rebalances, on the real broker with replicas as
real processes: every key ends as a prediction or a dead letter (lost = 0); duplicates only
where a crash left work uncommitted."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.server import Service
from service.settings import Settings
from service.tools.publishing import build_descriptor, publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import isolated_settings
from tests.models import ModelFiles
from tests.replicas import Replica, account, scored_at_least, split, steady_producer
from tests.service_helpers import until

RATE = 400.0
PARTITIONS = 6
# What a replica has scored when it is well into the stream: some seconds of its share.
MID = int(RATE)


async def with_model(bootstrap: str, files: ModelFiles, **overrides: Any) -> Settings:
    settings = isolated_settings(
        bootstrap, topic_partitions=PARTITIONS, commit_interval_ms=100, **overrides
    )
    from service.kafka.topics import ensure_topics

    await ensure_topics(settings)
    offset = await publish(
        settings, build_descriptor(files.forest_onnx, "m", "wine", inputs=list(WINE_FIELDS))
    )
    assert offset == 0
    return settings


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    """Replicas a test starts are killed at its end, whatever happened."""
    started: list[Replica] = []
    yield started
    for replica in started:
        if replica.process is not None and replica.process.returncode is None:
            replica.process.kill()
            await replica.process.wait()


async def started(replicas: list[Replica], settings: Settings, *names: str) -> list[Replica]:
    """Replicas started together and ready, recorded for the cleanup fixture."""
    new = [Replica(settings, name) for name in names]
    replicas += new
    await asyncio.gather(*[(await r.start()).ready() for r in new])
    return new


async def mid_stream(replica: Replica, producing: asyncio.Task[Any], count: int = MID) -> None:
    """Until ``replica`` has scored ``count`` records, the stream still flowing then: it holds
    partitions and is at work on them, under load."""
    await until(
        lambda: scored_at_least(replica, count), 60, what=f"{replica.name} scoring {count} records"
    )
    assert not producing.done(), f"the stream ended before {replica.name} scored {count} records"


async def test_sigterm_under_load_loses_nothing_and_duplicates_nothing(
    bootstrap: str, model_files: ModelFiles, replicas: list[Replica]
) -> None:
    s = await with_model(bootstrap, model_files)
    a, b = await started(replicas, s, "a", "b")
    producing = asyncio.create_task(steady_producer(s, int(RATE * 10), RATE))
    await mid_stream(a, producing)
    assert await a.signal(signal.SIGTERM) == 0
    keys = await producing
    result = await account(s, keys)
    # a is gone: b took over every partition.
    assert await b.partitions() == frozenset(range(PARTITIONS))
    await b.stop()
    assert result.lost == set()
    assert result.duplicates == 0


async def test_sigkill_and_restart_lose_nothing(
    bootstrap: str, model_files: ModelFiles, replicas: list[Replica]
) -> None:
    # A killed replica's partitions move once its session expires: isolated_settings makes it
    # 2 s on the embedded broker (a session under 6 s is one that Kafka refuses by default).
    s = await with_model(bootstrap, model_files)
    a, b = await started(replicas, s, "a", "b")
    producing = asyncio.create_task(steady_producer(s, int(RATE * 8), RATE))
    await mid_stream(a, producing)
    assert await a.signal(signal.SIGKILL) == -signal.SIGKILL
    # a stays down while the stream goes on: b scores more of its share meanwhile, and what
    # comes on a's partitions waits, with a's uncommitted work, for whoever takes them next.
    await mid_stream(b, producing, await b.scored() + MID // 2)
    a = Replica(s, "a")  # restarted
    replicas.append(a)
    await (await a.start()).ready(timeout_s=120)
    # The restarted a takes its share back.
    await until(lambda: split([a, b], PARTITIONS), 60, what="the restarted a sharing with b")
    keys = await producing
    # b is killed mid-stream too: a second stream flows, which b is at work on.
    producing = asyncio.create_task(steady_producer(s, int(RATE * 4), RATE, prefix="r"))
    await mid_stream(b, producing, await b.scored() + MID // 2)
    assert await b.signal(signal.SIGKILL) == -signal.SIGKILL
    keys += await producing
    result = await account(s, keys)
    await a.stop()
    assert result.lost == set()
    # Only what the killed replicas had not committed comes twice: far less than the stream.
    print(f"duplicates after two SIGKILLs: {result.duplicates} of {len(keys)}")
    assert result.duplicates < len(keys) // 4


async def test_two_three_two_replicas_share_the_stream(
    bootstrap: str, model_files: ModelFiles, replicas: list[Replica]
) -> None:
    s = await with_model(bootstrap, model_files)
    a, b = await started(replicas, s, "a", "b")
    # The stream flows through every step below, however long a replica takes to start.
    stop = asyncio.Event()
    producing = asyncio.create_task(steady_producer(s, int(RATE * 90), RATE, stop=stop))
    # Two replicas share the stream: each holds partitions and scores records.
    await until(lambda: split([a, b], PARTITIONS), 60, what="a and b sharing the partitions")
    for replica in (a, b):
        await mid_stream(replica, producing, MID // 2)
    (c,) = await started(replicas, s, "c")
    # A third joins and takes its share: partitions of its own, and records scored from them.
    await until(lambda: split([a, b, c], PARTITIONS), 60, what="a, b and c sharing the partitions")
    await mid_stream(c, producing, MID // 2)
    assert await c.signal(signal.SIGTERM) == 0
    # Back to two, which take c's partitions over while the stream goes on.
    await until(lambda: split([a, b], PARTITIONS), 60, what="a and b sharing the partitions")
    for replica in (a, b):
        await mid_stream(replica, producing, await replica.scored() + MID // 4)
    stop.set()
    keys = await producing
    result = await account(s, keys)
    for replica in (a, b):
        await replica.stop()
    assert result.lost == set()
    assert result.duplicates == 0


async def test_broker_stopped_and_restarted_around_a_running_service(
    start_service: Any, model_files: ModelFiles
) -> None:
    """The embedded broker keeps data in memory, so its restart loses every topic: what this
    shows is that the service notices (not ready), survives, recreates its topics when the
    broker is back, and scores new records with the models it holds. Records in flight at the
    moment of the outage cannot be accounted for on such a broker."""
    from service.tools.devbroker import DevBroker
    from tests.kafka_helpers import produce_json, read_until

    broker = await DevBroker().astart()
    started: Service | None = None
    try:
        s = isolated_settings(broker.bootstrap)
        service: Service = await start_service(s)
        started = service
        offset = await publish(
            s, build_descriptor(model_files.forest_onnx, "m", "wine", inputs=list(WINE_FIELDS))
        )
        assert (await wait_for_event(s, "m", offset, timeout_s=60) or {}).get("status") == "loaded"
        rows = [
            {"dataType": "wine", **dict(zip(WINE_FIELDS, map(float, r), strict=True))}
            for r in model_files.features[:20]
        ]
        await produce_json(
            broker.bootstrap, s.data_topics[0], [(f"before{i}", r) for i, r in enumerate(rows)]
        )
        await read_until(broker.bootstrap, s.output_topic, lambda r: len(r) >= 20)

        broker.stop()
        await until(
            lambda: not service.readiness()["brokerReachable"], 30, what="the outage noticed"
        )
        broker = await DevBroker(port=broker.port).astart()
        await until(lambda: all(service.readiness().values()), 90, what="ready again")

        await produce_json(
            broker.bootstrap, s.data_topics[0], [(f"after{i}", r) for i, r in enumerate(rows)]
        )
        out = await read_until(
            broker.bootstrap, s.output_topic, lambda r: len(r) >= 20, timeout_s=90
        )
        assert {r.key.decode() for r in out} == {f"after{i}" for i in range(20)}
        assert service.is_live()  # it survived: no part of it failed
    finally:
        if started is not None:
            await started.stop()  # while its broker answers: against none, a stop waits long
        broker.stop()


async def test_broker_unreachable_at_start(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Started before its broker: live, not ready, retrying; ready once the broker answers."""
    import httpx

    from service.tools.devbroker import DevBroker, free_port

    caplog.set_level(logging.WARNING, logger="service.server")

    def failed_attempts() -> int:
        return sum("not reachable" in r.getMessage() for r in caplog.records)

    port = free_port()
    s = isolated_settings(f"127.0.0.1:{port}")
    service = Service(s)
    starting = asyncio.create_task(service.start())
    try:
        await until(lambda: service.http_port is not None, 30, what="HTTP up")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}") as client:
            # Connection attempts fail meanwhile, each logged: the first, and a retry.
            await until(lambda: failed_attempts() >= 2, 30, what="two failed attempts")
            assert (await client.get("/health/live")).status_code == 200
            assert (await client.get("/health/ready")).status_code == 503
            assert not starting.done()
            broker = await DevBroker(port=port).astart()
            try:
                await asyncio.wait_for(starting, 60)
                await until(lambda: all(service.readiness().values()), 60, what="ready")
                assert (await client.get("/health/ready")).status_code == 200
            finally:
                await service.stop()
                broker.stop()
    finally:
        starting.cancel()
