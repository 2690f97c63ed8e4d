"""The seam in front of Kafka: what the loops and parts use of a consumer and a producer, as
small Protocols, so that code outside kafka/ names no client class. aiokafka's clients
(made in kafka/clients.py) satisfy them in production; tests/kafka/fake.py is an in-memory
one, so that the loop logic (commit order, rewinds, held partitions) is tested without a
broker. ``TopicPartition`` and ``OffsetAndMetadata`` are aiokafka's plain named tuples; a
fetched record is what the engine reads (scoring/records.SourceRecord)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from aiokafka.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "BatchBuilderLike",
    "CommitTarget",
    "ControlConsumer",
    "DataConsumer",
    "EventProducer",
    "FeedbackConsumer",
    "Fetcher",
    "OffsetAndMetadata",
    "OutputProducer",
    "RebalanceHandler",
    "RecordProducer",
    "TopicPartition",
    "TopicReader",
]


class RebalanceHandler(Protocol):
    """What the data loop does when the group moves partitions (kafka/rebalance.py)."""

    async def partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None: ...
    def partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None: ...


class CommitTarget(Protocol):
    """What the committer needs: which partitions this member owns, and the commit."""

    def assignment(self) -> set[TopicPartition]: ...
    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None: ...


class DataConsumer(CommitTarget, Protocol):
    """A consumer-group member, as the data loop uses it."""

    def subscribe(self, topics: Sequence[str], *, listener: Any) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...


class Fetcher(Protocol):
    """A started consumer, as a loop that only reads uses it: fetch what there is, and stop."""

    async def stop(self) -> None: ...
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]: ...


class FeedbackConsumer(Fetcher, Protocol):
    """A consumer-group member that commits what its owner learned (the learner's feedback
    consumer; kafka/clients.py subscribes and starts it)."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class TopicReader(Fetcher, Protocol):
    """A reader of every partition of one topic, outside any group (kafka/clients.py's
    ``assign_whole_topic``): the control reader's, the stats view's."""

    async def start(self) -> None: ...
    async def topics(self) -> set[str]: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def assign(self, partitions: Iterable[TopicPartition]) -> None: ...
    async def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...
    async def end_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]: ...


class ControlConsumer(TopicReader, Protocol):
    """A reader of every partition of the control topic from the start, outside any group."""


class BatchBuilderLike(Protocol):
    def append(
        self,
        *,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> object | None: ...


class OutputProducer(Protocol):
    """A producer, as the output writer uses it: records go out as whole partition batches."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def create_batch(self) -> BatchBuilderLike: ...
    async def send_batch(
        self, batch: Any, topic: str, *, partition: int
    ) -> asyncio.Future[Any]: ...
    async def partitions_for(self, topic: str) -> set[int]: ...


class EventProducer(Protocol):
    """A producer that sends one record and waits for it (model events, control records,
    stats snapshots); the answer's ``offset`` is the record's."""

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> Any: ...


class RecordProducer(Protocol):
    """A producer its owner starts and stops, that sends one record, headers and all, and
    waits for it (the learner's: versions to the control topic, feedback to the dead-letter
    topic)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...
