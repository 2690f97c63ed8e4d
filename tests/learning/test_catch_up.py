"""Reading a topic to its end when a fetch can come back empty before the end: aiokafka's
getmany returns nothing when a fetch takes longer than its timeout, not only at the end. The
learner's restore must find the latest version, not an older one, and the service's control
reader must plan its replay over the whole log. (The control reader's tests live here with
the learner's because they share the defect and its fake consumer.)"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import pytest

import service.kafka.control as control
from service.control.replay_actions import ControlRecord
from service.kafka.control import ControlReader
from service.kafka.seams import TopicPartition
from service.learning.restore import CannotResumeError, latest_value
from tests.kafka.fake import FakeRecord

TOPIC = "control"
TP = TopicPartition(TOPIC, 0)


class SlowConsumer:
    """One partition holding ``records``; each fetch in ``empty_at`` (counted from 0) comes
    back empty as a slow one does, and ``end`` is what it says the end offset is."""

    def __init__(
        self,
        records: list[FakeRecord],
        empty_at: set[int],
        end: int | None = None,
        ends_known: bool = True,
    ) -> None:
        self._unread = deque(records)
        self._empty_at = empty_at
        self._end = len(records) if end is None else end
        self._ends_known = ends_known
        self._position = 0
        self.fetches = 0

    # -- what the learner's restore uses (an AIOKafkaConsumer's) ----------------------------

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def end_offsets(self, partitions: Any) -> dict[TopicPartition, int]:
        if not self._ends_known:
            raise RuntimeError("this broker cannot say")
        return {TP: self._end}

    async def position(self, tp: TopicPartition) -> int:
        return self._position

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        fetch, self.fetches = self.fetches, self.fetches + 1
        await asyncio.sleep(0)
        if fetch in self._empty_at or not self._unread:
            return {}
        batch = [self._unread.popleft() for _ in range(min(2, len(self._unread)))]
        self._position = batch[-1].offset + 1
        return {TP: batch}

    # -- and the control reader -------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0}

    def assign(self, partitions: Any) -> None:
        pass

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        pass


def log_of(*keys_and_values: tuple[str, str]) -> list[FakeRecord]:
    return [
        FakeRecord(TOPIC, 0, i, key.encode(), value.encode())
        for i, (key, value) in enumerate(keys_and_values)
    ]


VERSIONS = log_of(("online", "v1"), ("other", "x"), ("online", "v2"), ("other", "y"))


async def test_restore_reads_past_an_empty_fetch_to_the_latest_version() -> None:
    consumer = SlowConsumer(VERSIONS, empty_at={0, 2})
    assert await latest_value(consumer, b"online") == b"v2"
    assert consumer.fetches >= 4  # two empty, two of records


async def test_restore_where_the_broker_cannot_say_its_end_stops_at_an_empty_fetch() -> None:
    consumer = SlowConsumer(VERSIONS, empty_at={1}, ends_known=False)
    assert await latest_value(consumer, b"online") == b"v1"  # all there is to go by


async def test_restore_refuses_to_start_when_the_end_is_never_reached() -> None:
    consumer = SlowConsumer(VERSIONS, empty_at=set(), end=10)
    with pytest.raises(CannotResumeError, match="not read to its end"):
        await latest_value(consumer, b"online", deadline_s=0.2)


class Lifecycle:
    def __init__(self) -> None:
        self.replayed: list[ControlRecord] | None = None
        self.applied: list[bytes | None] = []

    async def replay(self, records: list[ControlRecord]) -> None:
        self.replayed = list(records)

    async def apply(self, key: bytes | None, value: bytes | None, *rest: Any) -> None:
        self.applied.append(value)

    async def close(self) -> None:
        pass


async def replayed(consumer: SlowConsumer) -> tuple[list[bytes | None], Lifecycle]:
    lifecycle = Lifecycle()
    reader = ControlReader(consumer, TOPIC, lifecycle)  # type: ignore[arg-type]
    await reader.start()
    task = asyncio.create_task(reader.run())
    try:
        await asyncio.wait_for(reader.caught_up.wait(), 10)
    finally:
        task.cancel()
    assert lifecycle.replayed is not None
    return [r.value for r in lifecycle.replayed], lifecycle


async def test_the_control_replay_reads_past_an_empty_fetch_to_the_end() -> None:
    values, lifecycle = await replayed(SlowConsumer(VERSIONS, empty_at={0, 2}))
    assert values == [b"v1", b"x", b"v2", b"y"] and lifecycle.applied == []


async def test_the_control_replay_where_the_end_is_unknown_stops_at_an_empty_fetch() -> None:
    values, _ = await replayed(SlowConsumer(VERSIONS, empty_at={1}, ends_known=False))
    assert values == [b"v1", b"x"]


async def test_the_control_replay_never_reaching_the_end_replays_what_it_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An end offset past the last record it can read (not a Kafka log's way, but a broker's
    answer is not to be trusted blindly): after a stall, the replay goes on with what it has
    rather than the replica never becoming ready."""
    monkeypatch.setattr(control, "REPLAY_STALL_S", 0.2)
    with caplog.at_level(logging.WARNING, logger="service.kafka.control"):
        values, _ = await replayed(SlowConsumer(VERSIONS, empty_at=set(), end=10))
    assert values == [b"v1", b"x", b"v2", b"y"] and "replaying what was read" in caplog.text
