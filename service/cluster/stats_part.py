"""The cluster view as a part beside the data loop: every ``STATS_INTERVAL_S`` this process
writes its snapshot to the compacted stats topic (key: instance, or ``instance/w<i>`` for a
worker), and it reads every process's snapshots back, so any replica answers for all of them
with no RPC layer between replicas. On a clean stop its last snapshot says ``stopped``; a
killed process stops writing and ages out. Nothing here touches the data path: a snapshot is
read from the counters the service keeps anyway, and a broker outage only delays snapshots."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from service.cluster.snapshot import SnapshotTaker, StatsSnapshot

log = logging.getLogger(__name__)

FINAL_SNAPSHOT_TIMEOUT_S = 5.0


class ClusterStats:
    """Publishes this process's snapshots and keeps the latest of every process's."""

    name = "stats"

    def __init__(
        self,
        taker: SnapshotTaker,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        topic: str,
        interval_s: float,
    ) -> None:
        self.taker = taker
        self._producer = producer
        self._consumer = consumer
        self._topic = topic
        self._interval_s = interval_s
        self._latest: dict[str, StatsSnapshot] = {}
        self._stopping = asyncio.Event()

    def snapshots(self) -> list[StatsSnapshot]:
        """The latest snapshot of every process seen, this one's as of now."""
        mine = self.taker.take()
        return [s for key, s in self._latest.items() if key != mine.key] + [mine]

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.topics()  # metadata, so that the partitions are known
        partitions = self._consumer.partitions_for_topic(self._topic) or {0}
        self._consumer.assign([TopicPartition(self._topic, p) for p in sorted(partitions)])
        await self._consumer.seek_to_beginning()

    async def run(self) -> None:
        reading = asyncio.create_task(self._read(), name="stats-read")
        try:
            while not self._stopping.is_set():
                await self._publish(self.taker.take())
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval_s)
        finally:
            reading.cancel()
            with suppress(asyncio.CancelledError):
                await reading

    async def stop(self) -> None:
        """The last word: a snapshot marked ``stopped``, taken after the data plane drained
        (this part stops after it), so its counts are final."""
        self._stopping.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(
                self._publish(self.taker.take("stopped")), FINAL_SNAPSHOT_TIMEOUT_S
            )

    async def close(self) -> None:
        await self._consumer.stop()

    async def _publish(self, snapshot: StatsSnapshot) -> None:
        self._latest[snapshot.key] = snapshot
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
            except KafkaError as exc:
                log.warning("stats topic not readable: %s", exc)
                await asyncio.sleep(self._interval_s)
                continue
            for records in batches.values():
                for record in records:
                    self._take(record.key, record.value)

    def _take(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:  # a tombstone: the process is forgotten
            self._latest.pop(key.decode(errors="replace"), None)
            return
        try:
            snapshot = StatsSnapshot.model_validate_json(value)
        except ValidationError as exc:
            log.warning("stats record %r is not a snapshot: %s", key, exc.errors()[:1])
            return
        current = self._latest.get(snapshot.key)
        if current is None or current.published_at <= snapshot.published_at:
            self._latest[snapshot.key] = snapshot
