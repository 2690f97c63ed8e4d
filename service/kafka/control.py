"""The control reader: every partition of the control topic from offset 0, outside any
consumer group, for the life of the service. A restarted or added replica rebuilds its
registry by replaying the log; it is caught up once it has applied what was there at start.
That part is read whole first and applied as one replay (ModelLifecycle.replay), which loads
only what serves at its end; records arriving later are applied one by one."""

from __future__ import annotations

import asyncio
import logging

from service.control.lifecycle import ModelLifecycle
from service.control.replay import ControlRecord
from service.kafka.seams import ControlConsumer, TopicPartition

log = logging.getLogger(__name__)


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
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, fetched in batches.items():
                for record in fetched:
                    records.append(
                        ControlRecord(record.key, record.value, record.headers, record.offset)
                    )
                    self._next[tp] = record.offset + 1
            if self._is_caught_up(fetched=bool(batches)):
                break
        log.info("replaying %d control records", len(records))
        await self._lifecycle.replay(records)
        log.info("control topic caught up at %s", self._next or "the start")
        self.caught_up.set()

    def _is_caught_up(self, fetched: bool) -> bool:
        """Everything present at start has been read: the end offsets seen at start are
        reached, or — where a broker's end offsets cannot be trusted — a fetch came back
        empty, which a log with records still unread does not do."""
        if not fetched:
            return True
        return bool(self._targets) and all(
            self._next.get(tp, 0) >= end for tp, end in self._targets.items()
        )

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
