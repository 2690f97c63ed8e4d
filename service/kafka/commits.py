"""When a batch's offsets may be committed, as ordered steps. The delivery guarantee is
at-least-once: a record's offset is committed only after the broker acknowledged every output
(prediction or dead letter) of its batch and of every batch fetched before it. A crash or a
rebalance can make records be scored again; none is ever lost.

Each batch handed to the producer goes through these steps, in fetch order:

1. acks gathered: wait for the broker's acknowledgement of each of its output batches;
2. offsets computed per partition: the batch's ends (or where a held partition stopped) join
   the acknowledged offsets;
3. commit: the acknowledged offsets of the partitions this member still owns, coalesced to at
   most one commit per ``commit_interval_ms`` (fewer commits keep them from queueing in front of
   fetches on the broker connection; a crash re-delivers at most that interval's records);
4. retry or stop: a failed acknowledgement stops the loop (DeliveryError) with nothing past it
   committed; a failed commit is kept and tried again with the next; a commit the group
   refuses after a rebalance is dropped (the partition's new owner re-reads from the last one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import CommitFailedError, KafkaError

from service.errors import ModelServeError
from service.kafka.seams import CommitTarget, OffsetAndMetadata, TopicPartition
from service.metrics import Metrics

log = logging.getLogger(__name__)

MAX_BATCHES_IN_FLIGHT = 4


class DeliveryError(ModelServeError):
    """The broker did not acknowledge an output: nothing past it may be committed. Retriable:
    the data loop is rebuilt with a fresh producer and resumes from the committed offsets."""

    retriable = True


@dataclass
class InFlight:
    """A batch whose outputs are with the producer, and the offsets it may commit."""

    acks: list[asyncio.Future[Any]]
    offsets: dict[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)


class Committer:
    def __init__(
        self,
        consumer: CommitTarget,
        metrics: Metrics,
        commit_interval_ms: int = 100,
        max_in_flight: int = MAX_BATCHES_IN_FLIGHT,
    ) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._interval_s = commit_interval_ms / 1000.0
        # Bounded: when it is full, handing over the next batch waits (backpressure), so
        # memory stays bounded whatever the input rate.
        self._in_flight: asyncio.Queue[InFlight] = asyncio.Queue(max_in_flight)
        self._acked: dict[TopicPartition, OffsetAndMetadata] = {}
        self._last_commit = time.monotonic()
        self._lock = asyncio.Lock()

    async def hand_over(self, batch: InFlight) -> None:
        """A batch whose outputs were given to the producer; waits while too many are."""
        await self._in_flight.put(batch)

    async def run(self) -> None:
        """Steps 1–4 for every batch, in the order they were handed over. Raises
        DeliveryError when an output is not acknowledged."""
        while True:
            batch = await self._next_batch()
            if batch is None:  # the commit interval passed with offsets waiting
                await self.commit_acknowledged()
                continue
            try:
                await self._gather_acks(batch)  # step 1
                self._acked.update(batch.offsets)  # step 2
            except DeliveryError:
                # Stop: nothing from here on is committed, and no drain (a rebalance's, a
                # stop's) may wait for batches that will never be acknowledged here.
                self._discard_queued()
                raise
            finally:
                self._in_flight.task_done()
            if time.monotonic() - self._last_commit >= self._interval_s:
                await self.commit_acknowledged()  # step 3

    async def drain(self) -> None:
        """Until every batch handed over is acknowledged and its offsets committed (at once
        after a failure: what was acknowledged before it is committed, nothing else)."""
        await self._in_flight.join()
        await self.commit_acknowledged()

    def _discard_queued(self) -> None:
        while not self._in_flight.empty():
            batch = self._in_flight.get_nowait()
            for ack in batch.acks:
                ack.cancel()  # a shadow's write still under way stops; the batch is re-read
            self._in_flight.task_done()

    async def commit_acknowledged(self) -> None:
        async with self._lock:
            if not self._acked:
                return
            offsets, self._acked = self._acked, {}
            self._last_commit = time.monotonic()
            if not await self._commit(offsets):
                # Step 4: kept for the next commit, unless a newer offset came in meanwhile.
                self._acked = {**offsets, **self._acked}

    async def _next_batch(self) -> InFlight | None:
        waited_s = time.monotonic() - self._last_commit
        timeout = max(self._interval_s - waited_s, 0.0) if self._acked else None
        try:
            return await asyncio.wait_for(self._in_flight.get(), timeout)
        except TimeoutError:
            return None

    async def _gather_acks(self, batch: InFlight) -> None:
        results = await asyncio.gather(*batch.acks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self._metrics.produce_errors.inc(len(failures))
            raise DeliveryError(f"{len(failures)} output batches not acknowledged: {failures[0]!r}")

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
            self._metrics.commits.labels("ok").inc()
            return True
        except CommitFailedError as exc:
            # The group moved on (rebalance): the new owner re-reads from the last commit, so
            # these records may be scored twice but none is lost.
            self._metrics.commits.labels("failed").inc()
            log.warning("offset commit refused after a rebalance: %s", exc)
            return True
        except KafkaError as exc:
            self._metrics.commits.labels("failed").inc()
            log.warning("offset commit failed (kept for the next one): %s", exc)
            return False
