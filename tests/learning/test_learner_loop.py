"""The learner's loop (learning/part.py) over small in-memory consumers and producer: when
versions are judged, what a failed publish does, bad feedback on its way to the dead-letter
topic, and a data topic that never runs dry starving neither feedback nor a stop request."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import orjson

from service.learning.learner import LearnerCore
from service.learning.part import LearnerPart
from service.scoring.records import LocalRecord
from service.settings import Settings
from tests.learner_helpers import answered, data_records, feedback, stream
from tests.learning.test_learner import as_records, core

SETTINGS = Settings(bootstrap_servers="nowhere:9092")
Batch = dict[Any, list[LocalRecord]]


class Consumer:
    """Hands out the batches queued (or made by ``endless``), then nothing."""

    def __init__(self, endless: Callable[[], Batch] | None = None) -> None:
        self.queued: deque[Batch] = deque()
        self.endless = endless
        self.fetches = 0
        self.drained = asyncio.Event()  # asked for more with nothing queued

    def queue(self, records: list[LocalRecord]) -> None:
        self.queued.append({("topic", 0): records})

    async def getmany(
        self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None
    ) -> Batch:
        self.fetches += 1
        await asyncio.sleep(0)  # as a real fetch does, it lets the rest of the loop run
        if self.queued:
            return self.queued.popleft()
        self.drained.set()
        if self.endless is not None:
            return self.endless()
        await asyncio.sleep(0.001)
        return {}

    async def commit(self, offsets: dict[Any, int]) -> None:
        pass

    async def stop(self) -> None:
        pass


class Producer:
    """Keeps what is sent; sends to the control topic fail while ``failing``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, Any]] = []
        self.control_attempts = 0
        self.failing = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        if topic == SETTINGS.control_topic:
            self.control_attempts += 1
            if self.failing:
                raise ConnectionError("the broker is away")
        self.sent.append((topic, value, headers))
        return SimpleNamespace(offset=len(self.sent) - 1)

    def published(self) -> list[dict[str, Any]]:
        return [orjson.loads(v or b"") for t, v, _ in self.sent if t == SETTINGS.control_topic]


class Running:
    def __init__(self, learner_core: LearnerCore, data: Consumer | None = None) -> None:
        self.producer = Producer()
        self.learner = LearnerPart(SETTINGS, learner_core.options, self.producer)
        self.learner.core = learner_core
        self.feedback = Consumer()
        self.data = data or Consumer()
        self.learner._feedback = self.feedback
        self.learner._data = self.data
        self.learner._predictions = Consumer()
        self.task = asyncio.create_task(self.learner.run())

    async def fed(self, records: Iterable[LocalRecord]) -> None:
        """Queues ``records`` as one batch and waits until the loop has done with it (and
        with any version due after it): it asks for the next batch."""
        self.feedback.drained.clear()
        self.feedback.queue(list(records))
        await asyncio.wait_for(self.feedback.drained.wait(), 10)

    async def stopped(self) -> None:
        """The part's stop, which waits for the loop to end its round."""
        async with asyncio.timeout(5):
            await self.learner.stop()
            assert self.task.done()
            await self.task


def held_back_always(learner_core: LearnerCore, count: int) -> None:
    """A serving model that answered every record right, and no regression allowed: every
    version the learner offers is held back (its own accuracy is below 1)."""
    _, y = stream(count, seed=11)
    learner_core.see_predictions(answered(y))


def numbered(count: int) -> list[LocalRecord]:
    x, y = stream(count, seed=11)
    records = as_records(feedback(x, y))
    return records


async def test_after_a_hold_back_the_next_version_is_judged_publish_every_records_later() -> None:
    learner_core = core(publish_every=10, max_regression=0.0)
    held_back_always(learner_core, 30)
    records = numbered(30)
    running = Running(learner_core)
    try:
        await running.fed(records[:10])
        assert learner_core.counts.held_back == 1
        await running.fed(records[10:])  # 20 records in one batch: two versions due, no more
        assert learner_core.counts.held_back == 3 and learner_core.counts.published == 0
    finally:
        await running.stopped()


async def test_a_failed_publish_is_offered_again_at_the_next_due_time() -> None:
    learner_core = core(publish_every=10)
    records = numbered(40)
    running = Running(learner_core)
    running.producer.failing = True
    try:
        await running.fed(records[:30])
        assert running.producer.control_attempts == 3 and learner_core.counts.published == 0
        running.producer.failing = False
        await running.fed(records[30:])
        published = running.producer.published()
        assert running.producer.control_attempts == 4 and len(published) == 1
        assert published[0]["version"] == 1  # the number of the version that was not taken
        assert published[0]["metadata"]["learner"]["feedbackOffsets"] == {"0": 40}
    finally:
        await running.stopped()


async def test_busy_data_starves_neither_feedback_nor_a_stop_request() -> None:
    x, _ = stream(100, seed=12)
    busy = as_records(data_records(x, "d"), topic="data")
    data = Consumer(endless=lambda: {("data", 0): busy})  # never runs dry
    learner_core = core(publish_every=1000)
    running = Running(learner_core, data)
    bad = as_records([("bad", {"x0": 1.0, "x1": 2.0, "x2": 3.0, "label": "zzz"})])
    try:
        await running.fed([*numbered(50), *bad])
        assert learner_core.counts.learned == 50 and learner_core.counts.invalid == 1
        assert data.fetches > 1  # the data topic was read meanwhile
        dead = [(v, h) for t, v, h in running.producer.sent if t == SETTINGS.dlq_topic]
        assert len(dead) == 1 and ("dlq.reason", b"invalid-feedback") in dead[0][1]
    finally:
        await running.stopped()
