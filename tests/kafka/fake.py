"""An in-memory Kafka behind the seam (service/kafka/seams.py): a consumer-group member and a
producer over plain lists, with hooks to make a rebalance happen mid-fetch or an output go
unacknowledged. Enough of Kafka's semantics for the loop logic: positions, pause, seek,
commits of owned partitions, acknowledgements as futures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.kafka.seams import OffsetAndMetadata, TopicPartition


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass
class FakeLog:
    """The broker's data: records per partition."""

    partitions: dict[TopicPartition, list[FakeRecord]] = field(default_factory=dict)

    def append(
        self,
        tp: TopicPartition,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        records = self.partitions.setdefault(tp, [])
        offset = len(records)
        records.append(FakeRecord(tp.topic, tp.partition, offset, key, value, 0, tuple(headers)))


class FakeConsumer:
    def __init__(self, log: FakeLog, partitions: Sequence[TopicPartition]) -> None:
        self._log = log
        self._all = list(partitions)
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._listener: Any = None
        self.committed: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        # Actions run at the start of the n-th getmany (in Kafka, a rebalance happens inside a
        # fetch): ``at_fetch``.
        self.fetches = 0
        self._at_fetch: dict[int, Callable[[], Awaitable[None]]] = {}

    # -- the DataConsumer seam ----------------------------------------------------------------

    def subscribe(self, topics: Sequence[str], *, listener: Any) -> None:
        self._listener = listener

    async def start(self) -> None:
        await self.rebalance(self._all)

    async def stop(self) -> None:
        self._assigned.clear()

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        self.fetches += 1
        action = self._at_fetch.pop(self.fetches, None)
        if action is not None:
            await action()
        room = max_records if max_records is not None else 10**9
        out: dict[TopicPartition, list[Any]] = {}
        for tp in sorted(self._assigned - self._paused):
            records = self._log.partitions.get(tp, [])
            start = self._positions[tp]
            taken = records[start : start + room]
            if taken:
                out[tp] = list(taken)
                self._positions[tp] = start + len(taken)
                room -= len(taken)
        if not out:
            await asyncio.sleep(0.001)  # a fetch that finds nothing waits a little
        return out

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        assert partition in self._assigned, "seek on a partition not owned"
        self._positions[partition] = offset

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def highwater(self, partition: TopicPartition) -> int | None:
        return len(self._log.partitions.get(partition, []))

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        assert set(offsets) <= self._assigned, "commit of a partition not owned"
        plain = {tp: meta.offset for tp, meta in offsets.items()}
        self.commits.append(plain)
        self.committed.update(plain)

    # -- test controls --------------------------------------------------------------------------

    def at_fetch(self, n: int, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` when the n-th fetch from now starts."""
        self._at_fetch[self.fetches + n] = action

    async def rebalance(self, assigned: Sequence[TopicPartition]) -> None:
        """The group's verdict: revoke everything, then assign ``assigned``. A partition that
        stays keeps its fetch position (records fetched before the rebalance are not fetched
        again unless the loop seeks back); a new one starts from its committed offset."""
        if self._assigned and self._listener is not None:
            await self._listener.on_partitions_revoked(sorted(self._assigned))
        kept = {tp: self._positions[tp] for tp in self._assigned if tp in assigned}
        self._assigned = set(assigned)
        self._paused &= self._assigned
        self._positions = {tp: kept.get(tp, self.committed.get(tp, 0)) for tp in self._assigned}
        if self._listener is not None:
            await self._listener.on_partitions_assigned(sorted(self._assigned))


class FakeBatch:
    def __init__(self, capacity: int) -> None:
        self.records: list[FakeRecord] = []
        self._capacity = capacity

    def append(
        self,
        *,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> object | None:
        if len(self.records) >= self._capacity:
            return None
        self.records.append(FakeRecord("", 0, 0, key, value, timestamp or 0, tuple(headers)))
        return object()


class FakeProducer:
    """Sends are acknowledged at once, unless ``fail_next`` says otherwise; ``hold_acks``
    keeps acknowledgements pending until ``release`` (to make them arrive out of order)."""

    def __init__(self, partitions: int = 2, batch_capacity: int = 1000) -> None:
        self._partitions = partitions
        self._capacity = batch_capacity
        self.sent: dict[str, list[FakeRecord]] = {}
        self.fail_next: BaseException | None = None
        self.hold_acks = False
        self.pending: list[asyncio.Future[Any]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self._capacity)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail_next is not None:
            ack.set_exception(self.fail_next)
            self.fail_next = None
            return ack
        self.sent.setdefault(topic, []).extend(
            FakeRecord(topic, partition, 0, r.key, r.value, r.timestamp, r.headers)
            for r in batch.records
        )
        if self.hold_acks:
            self.pending.append(ack)
        else:
            ack.set_result(None)
        return ack

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._partitions))
