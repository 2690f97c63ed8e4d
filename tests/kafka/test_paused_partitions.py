"""Held partitions on the consumer: paused at the held record, resumed when their model
arrives or their back-off passes, and the wait for a remote model's server measured per
partition for the give-up bound, until the partition gets past it."""

from __future__ import annotations

from service.kafka.paused_partitions import PausedPartitions
from service.kafka.seams import TopicPartition
from service.scoring.wait_for_model import Hold
from tests.kafka.fake import FakeConsumer, FakeLog

TP = TopicPartition("data", 0)
P = ("data", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def consumer() -> FakeConsumer:
    fake = FakeConsumer(FakeLog(), [TP])
    await fake.start()
    return fake


async def test_a_remote_hold_resumes_after_its_back_off() -> None:
    fake, clock = await consumer(), Clock()
    held = PausedPartitions(fake, lambda data_type: False, clock=clock)
    held.hold({P: Hold(7, "wine", 2.0)})
    assert fake.paused() == {TP}
    clock.now += 1.0
    held.resume_ready()
    assert fake.paused() == {TP}  # still backing off
    clock.now += 1.5
    held.resume_ready()
    assert fake.paused() == set() and held.waiting == 0


async def test_the_give_up_bound_is_the_partitions_wait_whatever_offset_it_holds_at() -> None:
    fake, clock = await consumer(), Clock()
    held = PausedPartitions(fake, lambda data_type: False, give_up_s=30.0, clock=clock)
    held.hold({P: Hold(7, "wine", 2.0)})
    clock.now += 20.0
    assert held.gave_up(P) is None
    held.hold({P: Hold(9, "wine", 2.0)})  # further on, the same outage
    clock.now += 15.0
    assert held.gave_up(P) == 35.0
    held.settled([P])  # a batch of it answered: the wait is over
    assert held.gave_up(P) is None
    held.hold({P: Hold(12, "wine", 2.0)})
    clock.now += 29.0
    assert held.gave_up(P) is None


async def test_waiting_for_a_model_to_be_published_is_not_waiting_for_a_server() -> None:
    fake, clock = await consumer(), Clock()
    serving: set[str] = set()
    held = PausedPartitions(fake, serving.__contains__, give_up_s=30.0, clock=clock)
    held.hold({P: Hold(3, "beer")})
    clock.now += 3600.0
    held.resume_ready()
    assert fake.paused() == {TP}  # it waits for the model, not for time
    assert held.gave_up(P) is None
    serving.add("beer")
    held.resume_ready()
    assert fake.paused() == set()
    held.hold({P: Hold(3, "beer", 2.0)})  # its remote server blips: a wait starts now
    assert held.gave_up(P) is None
