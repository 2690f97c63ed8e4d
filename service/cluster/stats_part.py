"""The cluster view as a part beside the data loop: every ``STATS_INTERVAL_S`` this process
writes its snapshot to the compacted stats topic (key: instance, or ``instance/w<i>`` for a
worker), and it reads every process's snapshots back, so any replica answers for all of them
with no RPC layer between replicas. On a clean stop its last snapshot says ``stopped``; a
killed or failed process stops writing and ages out. Nothing here touches the data path: a
snapshot is read from the counters the service keeps anyway, and a broker outage only delays
snapshots.

A snapshot's age is measured on this reader's clock from when it read it: records written
after this reader started are stamped on arrival, older ones (read while catching up) with
their writer's time, capped at now. So a writer whose clock runs ahead is not kept alive by
it, and no writer is judged by a clock it does not share. The latest record of a key, by
offset, is the one kept, as compaction keeps it."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import orjson
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from service.clock import utcnow
from service.cluster.snapshot import SnapshotTaker, StatsSnapshot
from service.cluster.view import Seen
from service.kafka.clients import assign_whole_topic
from service.kafka.seams import EventProducer, TopicPartition, TopicReader
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads, preview

log = logging.getLogger(__name__)

FINAL_SNAPSHOT_TIMEOUT_S = 5.0


class ClusterStats:
    """Publishes this process's snapshots and keeps the latest of every process's."""

    name = "stats"

    def __init__(
        self,
        taker: SnapshotTaker,
        producer: EventProducer,
        consumer: TopicReader,
        topic: str,
        interval_s: float,
    ) -> None:
        self.taker = taker
        self._producer = producer
        self._consumer = consumer
        self._topic = topic
        self._interval_s = interval_s
        self._latest: dict[str, Seen] = {}
        self._ends: dict[TopicPartition, int] = {}  # where the topic ended at start
        self._stopping = asyncio.Event()
        # Whether the last snapshot may say ``stopped``: the composition root clears it when
        # the process stops because a part failed (that one should age out, not be "stopped").
        self.clean_stop = True

    def snapshots(self) -> list[Seen]:
        """The latest snapshot of every process seen, this one's as of now."""
        mine = self.taker.take()
        others = [s for key, s in self._latest.items() if key != mine.key]
        return [*others, Seen(mine, mine.published_at)]

    async def start(self) -> None:
        await self._consumer.start()
        assigned = await assign_whole_topic(self._consumer, self._topic)
        self._ends = dict(await self._consumer.end_offsets(assigned))

    async def run(self) -> None:
        reading = asyncio.create_task(self._read(), name="stats-read")
        try:
            while not self._stopping.is_set():
                if reading.done():  # it only ends by failing: the view would go stale
                    reading.result()
                try:
                    await self._publish(self.taker.take())
                except Exception:  # a snapshot not taken is not worth stopping the service
                    log.exception("stats snapshot not taken")
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval_s)
        finally:
            reading.cancel()
            with suppress(asyncio.CancelledError):
                await reading

    async def stop(self) -> None:
        """The last word on a clean stop: a snapshot marked ``stopped``, taken after the data
        plane drained (this part stops after it), so its counts are final."""
        self._stopping.set()
        if self.clean_stop:
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    self._publish(self.taker.take("stopped")), FINAL_SNAPSHOT_TIMEOUT_S
                )

    async def close(self) -> None:
        await self._consumer.stop()

    async def _publish(self, snapshot: StatsSnapshot) -> None:
        self._latest[snapshot.key] = Seen(snapshot, snapshot.published_at)
        try:
            await self._producer.send_and_wait(
                self._topic, orjson.dumps(snapshot.document()), key=snapshot.key.encode()
            )
        except KafkaError as exc:  # the next interval tries again; the view says how old
            log.warning("stats snapshot not published: %s", exc)

    async def _read(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000)
            except Exception as exc:  # the view goes stale, the service goes on
                log.warning("stats topic not readable: %r", exc)
                await asyncio.sleep(self._interval_s)
                continue
            for tp, records in batches.items():
                end = self._ends.get(tp, 0)
                for record in records:
                    self.take(record.key, record.value, fresh=record.offset >= end)

    def take(self, key: bytes | None, value: bytes | None, fresh: bool) -> None:
        """One record of the stats topic; ``fresh`` when written after this reader started."""
        if key is None:
            return
        if value is None:  # a tombstone: the process is forgotten
            self._latest.pop(key.decode(errors="replace"), None)
            return
        try:
            snapshot = StatsSnapshot.model_validate(loads(value, DEFAULT_MAX_JSON_DEPTH))
        except UnreadableJson as exc:  # a foreign or broken writer: not this view's concern
            log.warning("stats record %s is not a snapshot: %s", preview(key), exc)
            return
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[:1]
            log.warning("stats record %s is not a snapshot: %s", preview(key), first)
            return
        now = utcnow()
        self._latest[snapshot.key] = Seen(
            snapshot, now if fresh else min(snapshot.published_at, now)
        )
