"""A shadow route through the data loop on the in-memory Kafka: the shadow's answers go to the
shadow topic keyed as their records, and a batch's offsets are committed only once the
shadow's outputs are acknowledged too; a held partition's records get theirs when re-read.
The data loop's rig sends them to ``out.shadow``: the output topic + ``.shadow``, the
default."""

from __future__ import annotations

import asyncio

import orjson

from tests.kafka.test_data_loop import T0, Rig, until
from tests.routing.stubs import Scaled, declare, install


async def test_shadow_answers_are_written_and_the_commit_waits_for_their_acks() -> None:
    rig = Rig()
    install(rig.registry, "a", Scaled(1))
    install(rig.registry, "b", Scaled(2))
    declare(rig.registry, mode="shadow", primary="a", shadows=["b"])
    for x in range(3):
        rig.add(T0, "d", x)
    await rig.loop.start()
    rig.producer.hold_acks = True  # nothing is acknowledged until released
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: len(rig.producer.sent.get("out.shadow", [])) == 3)
    primary_acks = len(rig.producer.pending)
    assert rig.consumer.committed == {}
    for ack in rig.producer.pending[: primary_acks - 1]:
        ack.set_result(None)  # every output but the shadow's last batch
    await asyncio.sleep(0.01)
    assert rig.consumer.committed == {}
    rig.producer.pending[-1].set_result(None)
    await until(lambda: rig.consumer.committed == {T0: 3})
    rig.loop.request_stop()
    await running
    shadows = sorted(rig.producer.sent["out.shadow"], key=lambda r: r.key or b"")
    assert [r.key for r in shadows] == [b"0-0", b"0-1", b"0-2"]
    documents = [orjson.loads(r.value or b"") for r in shadows]
    assert [d["result"]["value"] for d in documents] == [0.0, 2.0, 4.0]
    assert [d["primary"] for d in documents] == [
        {"name": "a", "version": 1, "value": float(x)} for x in range(3)
    ]
    headers = dict(shadows[0].headers)
    assert headers["role"] == b"shadow" and headers["model-name"] == b"b"
    assert headers["source"] == b"in/0/0"


async def test_a_held_partitions_records_get_their_shadow_answers_once_re_read() -> None:
    rig = Rig(wait_for_models=True)
    install(rig.registry, "a", Scaled(1))
    install(rig.registry, "b", Scaled(2))
    declare(rig.registry, mode="shadow", primary="a", shadows=["b"])
    rig.add(T0, "d", 1)
    rig.add(T0, "late", 2)  # no model yet: partition 0 waits here
    rig.add(T0, "d", 3)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed == {T0: 1})
    assert [r.key for r in rig.producer.sent["out.shadow"]] == [b"0-0"]
    install(rig.registry, "late-model", Scaled(1), data_type="late")
    await until(lambda: rig.consumer.committed == {T0: 3})
    rig.loop.request_stop()
    await running
    assert sorted(r.key or b"" for r in rig.producer.sent["out.shadow"]) == [b"0-0", b"0-2"]
