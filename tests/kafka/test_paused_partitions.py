"""Held partitions on the consumer: paused at the held record, resumed when their model
arrives or their back-off passes, and the wait at one offset measured for the give-up."""

from __future__ import annotations

from service.kafka.paused_partitions import PausedPartitions
from service.kafka.seams import TopicPartition
from service.scoring.wait_for_model import Hold
from tests.kafka.fake import FakeConsumer, FakeLog

TP = TopicPartition("data", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def consumer() -> FakeConsumer:
    fake = FakeConsumer(FakeLog(), [TP])
    await fake.start()
    return fake


async def test_a_remote_hold_resumes_after_its_back_off_and_gives_up_after_the_bound() -> None:
    fake, clock = await consumer(), Clock()
    held = PausedPartitions(fake, lambda data_type: False, give_up_s=30.0, clock=clock)
    held.hold({("data", 0): Hold(7, "wine", 2.0)})
    assert fake.paused() == {TP}
    clock.now += 1.0
    held.resume_ready()
    assert fake.paused() == {TP}  # still backing off
    clock.now += 1.5
    held.resume_ready()
    assert fake.paused() == set() and held.waiting == 0
    assert held.gave_up(("data", 0), 7) is None  # 2.5 s of 30
    clock.now += 10.0
    held.hold({("data", 0): Hold(7, "wine", 2.0)})  # the same wait goes on
    clock.now += 20.0
    assert held.gave_up(("data", 0), 7) == 32.5
    assert held.gave_up(("data", 0), 8) is None  # another offset: another wait
    held.hold({("data", 0): Hold(9, "wine", 2.0)})
    assert held.gave_up(("data", 0), 9) is None


async def test_a_no_model_hold_waits_for_its_model_not_for_time() -> None:
    fake, clock = await consumer(), Clock()
    serving: set[str] = set()
    held = PausedPartitions(fake, serving.__contains__, clock=clock)
    held.hold({("data", 0): Hold(3, "beer")})
    clock.now += 3600.0
    held.resume_ready()
    assert fake.paused() == {TP}
    serving.add("beer")
    held.resume_ready()
    assert fake.paused() == set()
    assert held.gave_up(("data", 0), 3) is None  # no bound set
