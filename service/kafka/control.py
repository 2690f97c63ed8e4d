"""The control reader: every partition of the control topic from offset 0, outside any
consumer group, for the life of the service. A restarted or added replica rebuilds its
registry by replaying the log; it is caught up once it has applied what was there at start.
That part is read whole first and applied as one replay (ModelLifecycle.replay), which loads
only what serves at its end; records arriving later are applied one by one."""

from __future__ import annotations

import asyncio
import logging
import time

from service.control.lifecycle import ModelLifecycle
from service.control.replay_actions import ControlRecord
from service.kafka.seams import ControlConsumer, TopicPartition

log = logging.getLogger(__name__)

# How long the replay waits, end offsets not reached, without a record before it replays
# what it has read (see _replay).
REPLAY_STALL_S = 30.0


class ControlReader:
    name = "control"

    def __init__(self, consumer: ControlConsumer, topic: str, lifecycle: ModelLifecycle) -> None:
        self._consumer = consumer
        self._topic = topic
        self._lifecycle = lifecycle
        self._targets: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}
        self.caught_up = asyncio.Event()
        self._consumer_started = False

    async def start(self) -> None:
        if not self._consumer_started:  # a retried start must not start the client twice
            await self._consumer.start()
            self._consumer_started = True
        await self._consumer.topics()  # fetches metadata, so the partitions are known
        partitions = self._consumer.partitions_for_topic(self._topic) or {0}
        assignment = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(assignment)
        await self._consumer.seek_to_beginning(*assignment)
        try:
            self._targets = dict(await self._consumer.end_offsets(assignment))
        except Exception:  # some Kafka-compatible brokers answer this badly; see run()
            log.warning("end offsets of the control topic unknown; waiting for an empty fetch")

    async def run(self) -> None:
        await self._replay()
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    await self._lifecycle.apply(
                        record.key, record.value, record.headers, record.offset
                    )

    async def _replay(self) -> None:
        """Read up to the end seen at start (a record fetched past it is simply included),
        apply it all as one replay, and say so (caught_up)."""
        records: list[ControlRecord] = []
        last_progress = time.monotonic()
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, fetched in batches.items():
                for record in fetched:
                    records.append(
                        ControlRecord(record.key, record.value, record.headers, record.offset)
                    )
                    self._next[tp] = record.offset + 1
            if batches:
                last_progress = time.monotonic()
            if self._is_caught_up(fetched=bool(batches)):
                break
            if time.monotonic() - last_progress > REPLAY_STALL_S:
                # Records at the end the reader never sees (a log whose end is not a record
                # of it): replaying what there is beats never being ready; later records are
                # applied one by one.
                log.warning(
                    "control topic: nothing fetched for %.0f s short of the end offsets %s "
                    "(read up to %s); replaying what was read",
                    REPLAY_STALL_S,
                    self._targets,
                    self._next,
                )
                break
        log.info("replaying %d control records", len(records))
        await self._lifecycle.replay(records)
        log.info("control topic caught up at %s", self._next or "the start")
        self.caught_up.set()

    def _is_caught_up(self, fetched: bool) -> bool:
        """Everything present at start has been read: the end offsets seen at start are
        reached. An empty fetch is not the end — aiokafka's getmany also comes back empty
        when a fetch takes longer than its timeout — except where a broker could not say its
        end offsets: there, a fetch that came back empty is all there is to go by."""
        if self._targets:
            return all(self._next.get(tp, 0) >= end for tp, end in self._targets.items())
        return not fetched

    async def stop(self) -> None:
        # The root ends run(): a control record is applied whole or not at all (a replay cut
        # short is of a replica stopping before it was ready).
        pass

    async def close(self) -> None:
        """The consumer, then the lifecycle: events already on their way out (an expiry's)
        are published before the producer closes."""
        try:
            await self._consumer.stop()
        finally:
            await self._lifecycle.close()
