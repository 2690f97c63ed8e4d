"""Models as data, end to end on the broker: swaps mid-stream, refusals that leave the serving
model in place, a replica that rebuilds its registry from the control topic, the wait policy."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from service.http.views import model_info
from service.server import Service
from service.tools.publishing import retire, wait_for_event
from service.wine import WINE_FIELDS
from tests.fake_clock import FakeClock
from tests.kafka_helpers import produce, produce_json, read_all, read_until
from tests.models import ModelFiles
from tests.service_helpers import http, publish_and_wait, publish_forest, wine_records


async def test_new_version_takes_over_mid_stream_without_losing_a_record(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service(max_batch_size=50)
    s = service.settings
    await publish_forest(s, model_files)
    x = model_files.features
    sent = 0
    swapped = asyncio.Event()

    async def stream() -> None:
        # Records keep flowing before, during and after the swap: chunks go on until the new
        # version has been serving for a while.
        nonlocal sent
        after_swap = 0
        while after_swap < 5:
            chunk = [
                (f"r{sent + i}", r)
                for i, (_, r) in enumerate(wine_records(x[sent % 1500 :][:100], ""))
            ]
            await produce_json(s.bootstrap_servers, s.data_topics[0], chunk)
            sent += len(chunk)
            after_swap += swapped.is_set()

    producing = asyncio.create_task(stream())
    await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 500)
    event = await publish_and_wait(
        s, model_files.forest_zipmap_onnx, "wine-rf", inputs=list(WINE_FIELDS)
    )
    assert event["version"] == 2
    swapped.set()
    await producing
    out = await read_until(
        s.bootstrap_servers, s.output_topic, lambda r: len({rec.key for rec in r}) >= sent
    )
    keys = {r.key.decode() for r in out}
    assert keys == {f"r{i}" for i in range(sent)}  # lost = 0
    versions_by_partition: dict[int, list[int]] = defaultdict(list)
    for record in sorted(out, key=lambda r: (r.partition, r.offset)):
        p = orjson.loads(record.value)
        versions_by_partition[p["source"]["partition"]].append(p["model"]["version"])
    seen = {v for vs in versions_by_partition.values() for v in vs}
    assert seen == {1, 2}
    for versions in versions_by_partition.values():
        assert versions == sorted(versions)  # once v2 scores a partition, v1 never does again


async def test_corrupt_model_never_replaces_the_serving_one(
    start_service: Any, model_files: ModelFiles, tmp_path: Path
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(model_files.forest_onnx.read_bytes()[:5000])
    event = await publish_and_wait(s, corrupt, "wine-rf", inputs=list(WINE_FIELDS))
    assert event["status"] == "failed" and event["version"] == 2 and event["error"]
    bad_pmml = tmp_path / "bad.pmml"
    bad_pmml.write_text("<PMML version='4.4'><nonsense/></PMML>")
    event = await publish_and_wait(s, bad_pmml, "wine-rf")
    assert event["status"] == "failed"
    await produce(s.bootstrap_servers, s.control_topic, [(b"wine-rf", b'{"name": "wine-rf"}')])

    await produce_json(
        s.bootstrap_servers, s.data_topics[0], wine_records(model_files.features[:20], "c")
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 20)
    assert {orjson.loads(r.value)["model"]["version"] for r in out} == {1}
    async with http(service) as client:
        info = (await client.get("/models/wine-rf")).json()
        assert info["version"] == 1 and info["status"] == "serving"
        statuses = [(h["version"], h["status"]) for h in info["history"]]
        assert statuses[:3] == [(1, "serving"), (2, "failed"), (3, "failed")]
        assert statuses[3] == (None, "rejected")
        assert "dataType" in info["history"][3]["error"]


async def test_a_restarted_replica_rebuilds_the_registry_from_the_control_topic(
    start_service: Any, model_files: ModelFiles, bootstrap: str
) -> None:
    clock = FakeClock()  # the replicas' control plane: d's expiry is driven, not waited for
    first: Service = await start_service(clock=clock)
    s = first.settings
    await publish_and_wait(s, model_files.forest_onnx, "a", inputs=list(WINE_FIELDS))
    await publish_and_wait(s, model_files.forest_onnx, "a", inputs=list(WINE_FIELDS))
    await publish_and_wait(s, model_files.forest_pmml, "b", data_type="other")
    await publish_and_wait(s, Path(model_files.forest_onnx), "a", version=1)  # stale: rejected
    await publish_and_wait(
        s, model_files.regressor_onnx, "c", data_type="gone", inputs=list(WINE_FIELDS)
    )
    await wait_for_event(s, "c", await retire(s, "c"), timeout_s=30)
    soon = clock.now() + timedelta(minutes=1)
    await publish_and_wait(
        s,
        model_files.regressor_onnx,
        "d",
        data_type="brief",
        inputs=list(WINE_FIELDS),
        expires_at=soon,
    )
    await clock.until_sleepers(soon)
    await clock.advance(timedelta(minutes=1))  # d's expiry timer fires
    before = [
        model_info(first.registry, n, with_history=True) or {} for n in first.registry.names()
    ]
    assert [(i["name"], i["status"]) for i in before] == [
        ("a", "serving"),
        ("b", "serving"),
        ("c", "retired"),
        ("d", "expired"),
    ]
    await first.stop()

    # On the same clock, so past d's expiry.
    second: Service = await start_service(
        s.model_copy(update={"instance_id": "second"}), clock=clock
    )
    await asyncio.wait_for(second.control.caught_up.wait(), 30)
    after = [
        model_info(second.registry, n, with_history=True) or {} for n in second.registry.names()
    ]

    def shape(infos: list[Any]) -> list[Any]:
        return [
            (
                i["name"],
                i["version"],
                i["status"],
                [(h["version"], h["status"]) for h in i["history"]],
            )
            for i in infos
        ]

    assert shape(after) == shape(before)
    assert shape(after)[0] == (
        "a",
        2,
        "serving",
        [(1, "superseded"), (2, "serving"), (1, "rejected")],
    )


async def test_wait_policy_holds_a_partition_until_its_model_arrives(
    start_service: Any, model_files: ModelFiles
) -> None:
    from aiokafka import AIOKafkaProducer

    service: Service = await start_service(no_model_policy="wait")
    s = service.settings
    await publish_forest(s, model_files)
    rows = wine_records(model_files.features[:40], "x")
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        # Partition 0: a beer record (no model yet) between wine records; partition 1: wine only.
        p0 = [
            (f"a{i}", {**r, "dataType": "beer" if i == 5 else "wine"})
            for i, (_, r) in enumerate(rows[:20])
        ]
        p1 = [(f"b{i}", r) for i, (_, r) in enumerate(rows[20:])]
        for partition, items in ((0, p0), (1, p1)):
            for key, value in items:
                await producer.send_and_wait(
                    s.data_topics[0], orjson.dumps(value), key=key.encode(), partition=partition
                )
    finally:
        await producer.stop()
    # Everything but the held part of partition 0 is scored: a0..a4 and all of partition 1.
    first = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 25)
    assert {r.key.decode() for r in first} == {f"a{i}" for i in range(5)} | {
        f"b{i}" for i in range(20)
    }
    waiting = await read_all(s.bootstrap_servers, s.output_topic)
    assert len(waiting) == 25  # a5.. stays held while beer has no model

    await publish_and_wait(
        s, model_files.forest_onnx, "beer-rf", data_type="beer", inputs=list(WINE_FIELDS)
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 40)
    assert sorted(r.key.decode() for r in out) == sorted([k for k, _ in p0] + [k for k, _ in p1])
    beer = next(orjson.loads(r.value) for r in out if r.key == b"a5")
    assert beer["model"]["name"] == "beer-rf"
    dlq = await read_all(s.bootstrap_servers, s.dlq_topic)
    assert dlq == []
