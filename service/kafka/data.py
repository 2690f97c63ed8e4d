"""The data loop, in two stages joined by a bounded queue:

1. fetch a batch from the consumer group, score it, and hand its outputs to the producer;
2. in order, wait for the broker to acknowledge a batch's outputs, then commit its offsets.

Stage 1 fetches and scores the next batch while stage 2 waits on the broker, so the CPU is not
idle during round trips; the queue bounds how much is in flight (memory stays bounded whatever
the input rate: when it is full, fetching waits). An offset is committed only after every
output of its batch and of all earlier batches was acknowledged (at-least-once); a failed
acknowledgement stops the loop without committing anything past it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from ..batching import BatchPolicy
from ..engine import Engine
from ..holding import Hold, Partition, hold_back
from ..metrics import Metrics
from .output import OutputWriter

log = logging.getLogger(__name__)

MAX_BATCHES_IN_FLIGHT = 4


class DeliveryError(Exception):
    """The broker did not acknowledge an output: nothing past it may be committed."""


@dataclass
class InFlight:
    """A batch whose outputs are with the producer, and the offsets it may commit."""

    acks: list[asyncio.Future[Any]]
    offsets: dict[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: DataLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # Before the partitions go: no new batch starts (the lock), and every batch in flight
        # is acknowledged and committed (the queue drains).
        async with self._loop.batch_lock:
            self._loop.generation += 1
            await self._loop.drain()
        log.info("partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked))
        self._loop.metrics.rebalances.inc()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._loop.metrics.assigned_partitions.set(len(assigned))
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        self._loop.assigned.set()


class DataLoop:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        engine: Engine,
        policy: BatchPolicy,
        metrics: Metrics,
        topics: Sequence[str],
        output_topic: str,
        dlq_topic: str,
        wait_for_models: bool = False,
        commit_interval_ms: int = 100,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._engine = engine
        self._policy = policy
        self.metrics = metrics
        self._topics = list(topics)
        self._writer = OutputWriter(producer, output_topic, dlq_topic, metrics)
        self._in_flight: asyncio.Queue[InFlight] = asyncio.Queue(MAX_BATCHES_IN_FLIGHT)
        self.batch_lock = asyncio.Lock()
        self.generation = 0  # rebalances seen; a batch fetched in an older one is dropped
        self.assigned = asyncio.Event()
        self._stopping = False
        self._wait_for_models = wait_for_models
        self._waiting: dict[TopicPartition, str] = {}
        self._commit_interval_s = commit_interval_ms / 1000.0
        self._acked: dict[TopicPartition, OffsetAndMetadata] = {}
        self._last_commit = time.monotonic()
        self._commit_lock = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._consumer.start()

    def request_stop(self) -> None:
        """Stop fetching; what is in flight is still acknowledged and committed."""
        self._stopping = True

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:  # a failure in either stage stops both
            committer = group.create_task(self._commit_in_order(), name="committer")
            while not self._stopping:
                self._resume_ready()
                # Fetch outside the lock: the client blocks fetches while a rebalance runs,
                # and the rebalance waits for the lock (see _Rebalance).
                generation = self.generation
                batch = await self._collect()
                if not batch.records:
                    continue
                async with self.batch_lock:
                    if generation != self.generation:
                        # A rebalance came while this batch was fetched: the records of
                        # partitions that went elsewhere are their new owners' to read; the
                        # ones still here are read again, in order, from where the batch began.
                        self._rewind(batch)
                        continue
                    await self._process(batch)
            await self.drain()
            committer.cancel()

    async def drain(self) -> None:
        """Until every batch handed to the producer is acknowledged and committed."""
        await self._in_flight.join()
        await self._commit_acknowledged()

    async def close(self) -> None:
        """Leave the group (the partitions move to the other replicas at once) and flush and
        close the producer. Safe to call on a loop that never started or that failed."""
        self.assigned.clear()
        try:
            await self._consumer.stop()
        finally:
            await self._producer.stop()

    # -- stage 1 ------------------------------------------------------------------------------

    async def _collect(self) -> Fetched:
        """One batch, per the smart-batching policy (see batching.py)."""
        batch = Fetched()
        batch.add(
            await self._consumer.getmany(timeout_ms=100, max_records=self._policy.max_batch_size)
        )
        if not batch.records:
            return batch
        started = time.monotonic()
        last = len(batch.records)
        while self._policy.keep_collecting(
            len(batch.records), (time.monotonic() - started) * 1000, last
        ):
            room = self._policy.room(len(batch.records))
            last = batch.add(await self._consumer.getmany(timeout_ms=0, max_records=room))
        return batch

    async def _process(self, batch: Fetched) -> None:
        for tp, count in batch.counts.items():
            self.metrics.record_consumed(tp.topic, count)
            highwater = self._consumer.highwater(tp)
            if highwater is not None:  # where the broker reports it
                lag = max(0, highwater - batch.ends[tp])
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
        outcomes = await self._engine.score(batch.records)
        holds: dict[Partition, Hold] = {}
        if self._wait_for_models:
            outcomes, holds = hold_back(outcomes)
        acks = await self._writer.write(outcomes)
        await self._in_flight.put(InFlight(acks, batch.offsets(holds)))  # full: backpressure
        for (topic, partition), hold in holds.items():
            tp = TopicPartition(topic, partition)
            # Read the held records again once their model is there; until then the
            # partition is paused, so other partitions are not held up.
            self._consumer.seek(tp, hold.offset)
            self._consumer.pause(tp)
            self._waiting[tp] = hold.data_type
            log.info("%s/%d waits for a model for dataType %r", topic, partition, hold.data_type)

    def _rewind(self, batch: Fetched) -> None:
        assigned = self._consumer.assignment()
        for tp, start in batch.starts.items():
            if tp in assigned:
                self._consumer.seek(tp, start)

    def _resume_ready(self) -> None:
        """Resume the paused partitions whose model has arrived (or that were revoked)."""
        if not self._waiting:
            return
        assigned = self._consumer.assignment()
        for tp, data_type in list(self._waiting.items()):
            if tp not in assigned:
                del self._waiting[tp]
            elif self._engine.has_model(data_type):
                del self._waiting[tp]
                self._consumer.resume(tp)
                log.info(
                    "%s/%d resumes: dataType %r has a model", tp.topic, tp.partition, data_type
                )

    # -- stage 2 ------------------------------------------------------------------------------

    async def _commit_in_order(self) -> None:
        """Batches are acknowledged in the order they were fetched; their offsets are then
        committed together, at most every ``commit_interval_ms``. Fewer commits keep offset
        commits from queueing in front of fetches on the broker connection; a crash can
        re-deliver at most that interval's records, never lose one."""
        while True:
            wait = self._commit_interval_s - (time.monotonic() - self._last_commit)
            try:
                batch = await asyncio.wait_for(
                    self._in_flight.get(), max(wait, 0.0) if self._acked else None
                )
            except TimeoutError:
                await self._commit_acknowledged()
                continue
            try:
                results = await asyncio.gather(*batch.acks, return_exceptions=True)
                failures = [r for r in results if isinstance(r, BaseException)]
                if failures:
                    self.metrics.produce_errors.inc(len(failures))
                    raise DeliveryError(
                        f"{len(failures)} output batches not acknowledged: {failures[0]!r}"
                    )
                self._acked.update(batch.offsets)
            finally:
                self._in_flight.task_done()
            if time.monotonic() - self._last_commit >= self._commit_interval_s:
                await self._commit_acknowledged()

    async def _commit_acknowledged(self) -> None:
        async with self._commit_lock:
            if not self._acked:
                return
            offsets, self._acked = self._acked, {}
            self._last_commit = time.monotonic()
            if not await self._commit(offsets):
                # Try again with the next commit, unless a newer offset came in meanwhile.
                self._acked = {**offsets, **self._acked}

    async def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> bool:
        """True when committed, or when retrying is pointless (the partitions moved on)."""
        assigned = self._consumer.assignment()
        # Offsets of partitions this member no longer owns cannot be committed by it; their
        # new owner re-reads from the last commit (at-least-once).
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return True
        try:
            await self._consumer.commit(offsets)
            self.metrics.commits.labels("ok").inc()
            return True
        except CommitFailedError as exc:
            # The group moved on (rebalance): the new owner re-reads from the last commit, so
            # these records may be scored twice but none is lost.
            self.metrics.commits.labels("failed").inc()
            log.warning("offset commit refused after a rebalance: %s", exc)
            return True
        except KafkaError as exc:
            self.metrics.commits.labels("failed").inc()
            log.warning("offset commit failed (kept for the next one): %s", exc)
            return False


@dataclass
class Fetched:
    """A batch as fetched: its records, and per partition how many and where it ends — kept
    per fetch, so nothing about offsets is computed per record."""

    records: list[Any] = field(default_factory=list)
    counts: Counter[TopicPartition] = field(default_factory=Counter)
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    starts: dict[TopicPartition, int] = field(default_factory=dict)

    def add(self, fetched: dict[TopicPartition, list[Any]]) -> int:
        added = 0
        for tp, records in fetched.items():
            self.starts.setdefault(tp, records[0].offset)
            self.records.extend(records)
            self.counts[tp] += len(records)
            self.ends[tp] = records[-1].offset + 1
            added += len(records)
        return added

    def offsets(self, holds: dict[Partition, Hold]) -> dict[TopicPartition, OffsetAndMetadata]:
        """What to commit: the end of each partition, or where a held partition stopped."""
        offsets = {tp: OffsetAndMetadata(end, "") for tp, end in self.ends.items()}
        for (topic, partition), hold in holds.items():
            offsets[TopicPartition(topic, partition)] = OffsetAndMetadata(hold.offset, "")
        return offsets
