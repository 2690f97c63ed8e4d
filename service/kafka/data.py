"""The data loop, in two stages joined by the committer's bounded queue:

1. fetch a batch from the consumer group, score it, and hand its outputs to the producer;
2. in order, wait for the broker to acknowledge a batch's outputs, then commit its offsets
   (kafka/commits.py, where the delivery guarantee is written down).

Stage 1 fetches and scores the next batch while stage 2 waits on the broker, so the CPU is not
idle during round trips. Everything Kafka is reached through the seam (kafka/seams.py).

The Open Inference Protocol's input topic, when served, is one more topic of the group: a
batch's records from it are requests, answered by kafka/oip_inference.py beside the scoring of
the data records, and their answers and dead letters join the batch's outputs, so they are
fetched, rewound, drained and committed exactly as the data records are."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from service.kafka.commits import Committer, InFlight
from service.kafka.fetching import Fetched, fetch_batch, rewind
from service.kafka.oip_inference import Answered, KafkaInference
from service.kafka.output import OutputWriter
from service.kafka.paused_partitions import PausedPartitions
from service.kafka.rebalance import RebalanceListener
from service.kafka.seams import DataConsumer, OutputProducer, TopicPartition
from service.metrics import Metrics
from service.scoring.batching import BatchPolicy
from service.scoring.engine import Engine
from service.scoring.outcome import SideOutcome
from service.scoring.wait_for_model import Hold, Partition, hold_back

log = logging.getLogger(__name__)


class DataLoop:
    def __init__(
        self,
        consumer: DataConsumer,
        producer: OutputProducer,
        engine: Engine,
        policy: BatchPolicy,
        metrics: Metrics,
        topics: Sequence[str],
        output_topic: str,
        dlq_topic: str,
        wait_for_models: bool = False,
        commit_interval_ms: int = 100,
        shadow_topic: str | None = None,
        requests: KafkaInference | None = None,
        remote_give_up_s: float | None = None,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._engine = engine
        self._policy = policy
        self._metrics = metrics
        self._requests = requests  # the Open Inference Protocol's input topic, when served
        self._topics = [*topics, *([requests.input_topic] if requests is not None else [])]
        self._writer = OutputWriter(producer, output_topic, dlq_topic, metrics, shadow_topic)
        self._committer = Committer(consumer, metrics, commit_interval_ms)
        # Partitions that hold their place: for a model (wait_for_models), or for a remote
        # model's server to answer again (always).
        self._held = PausedPartitions(consumer, engine.has_model, remote_give_up_s)
        self._wait_for_models = wait_for_models
        # Held while a batch is scored and handed over; a rebalance takes it to drain.
        self._batch_lock = asyncio.Lock()
        self._generation = 0  # rebalances seen; a batch fetched in an older one is rewound
        self._stopping = False
        self.assigned = asyncio.Event()
        # Partition → records behind its end after the last batch read (the cluster view).
        self.lags: dict[tuple[str, int], int | None] = {}

    async def start(self) -> None:
        await self._producer.start()
        self._consumer.subscribe(self._topics, listener=RebalanceListener(self))
        await self._consumer.start()

    def request_stop(self) -> None:
        """Stop fetching; what is in flight is still acknowledged and committed."""
        self._stopping = True

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:  # a failure in either stage stops both
            committer = group.create_task(self._committer.run(), name="committer")
            while not self._stopping:
                await self.step()
            await self._committer.drain()
            committer.cancel()

    async def step(self) -> None:
        """The first stage, once: resume partitions whose model arrived, fetch what is waiting,
        and score it and hand its outputs to the producer, unless a rebalance came meanwhile
        (then the batch is rewound, to be fetched again by whoever owns it now)."""
        self._held.resume_ready()
        # Fetch outside the lock: the client blocks fetches while a rebalance runs, and the
        # rebalance waits for the lock (partitions_revoked).
        generation = self._generation
        batch = await fetch_batch(self._consumer, self._policy)
        if not batch.records:
            return
        async with self._batch_lock:
            if generation != self._generation:
                # A rebalance came while this batch was fetched.
                rewind(self._consumer, batch)
                return
            await self._process(batch)

    async def close(self) -> None:
        """Leave the group (the partitions move to the other replicas at once) and flush and
        close the producer. Safe to call on a loop that never started or that failed."""
        self.assigned.clear()
        try:
            await self._consumer.stop()
        finally:
            await self._producer.stop()

    # -- the RebalanceHandler seam ----------------------------------------------------------

    async def partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # Before the partitions go: no new batch starts (the lock), and every batch in flight
        # is acknowledged and committed (the committer drains).
        async with self._batch_lock:
            self._generation += 1
            await self._committer.drain()
        log.info("partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked))
        self._metrics.rebalances.inc()
        gone = [(tp.topic, tp.partition) for tp in revoked]
        self._metrics.forget_partitions(gone)
        for key in gone:
            self.lags.pop(key, None)

    def partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._metrics.assigned_partitions.set(len(assigned))
        # The whole assignment: lag unknown (None) until a batch of the partition is read.
        self.lags = {
            (tp.topic, tp.partition): self.lags.get((tp.topic, tp.partition)) for tp in assigned
        }
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
        self.assigned.set()

    # -- stage 1 ----------------------------------------------------------------------------

    async def _process(self, batch: Fetched) -> None:
        self._record_consumed(batch)
        records, requests = self._split_requests(batch.records)
        async with asyncio.TaskGroup() as group:  # requests are answered beside the records
            answering = group.create_task(self._answer(requests))
            scored = await self._engine.score_stream(records)
        answered = answering.result()
        outcomes = scored.outcomes
        holds: dict[Partition, Hold] = {}
        unanswered: set[Partition] = set()
        if self._wait_for_models or scored.unavailable:  # else nothing waits: no pass
            outcomes, holds, unanswered = hold_back(
                outcomes, self._wait_for_models, self._held.gave_up
            )
        # A partition whose records all got an answer this time has stopped waiting.
        self._held.settled(
            (tp.topic, tp.partition)
            for tp in batch.counts
            if (tp.topic, tp.partition) not in unanswered
        )
        acks = await self._writer.write([*outcomes, *answered.dead_letters])
        if answered.answers:
            assert self._requests is not None
            acks += await self._writer.write_records(self._requests.output_topic, answered.answers)
        if scored.sides:
            # A shadow's answers are written when they are in, without holding this batch's
            # predictions back; the commit waits for them as for every other output.
            keep = partial(_not_held, holds)
            acks.append(asyncio.ensure_future(self._writer.write_sides(scored.sides, keep)))
        await self._committer.hand_over(InFlight(acks, batch.offsets(holds)))  # backpressure
        if holds:
            # Read the held records again once their model is there (or answers again);
            # until then the partition is paused, so other partitions are not held up.
            self._held.hold(holds)

    def _split_requests(self, records: list[Any]) -> tuple[list[Any], list[Any]]:
        """The batch's data records, and its Open Inference Protocol requests."""
        if self._requests is None:
            return records, []
        topic = self._requests.input_topic
        return [r for r in records if r.topic != topic], [r for r in records if r.topic == topic]

    async def _answer(self, requests: list[Any]) -> Answered:
        if not requests or self._requests is None:
            return Answered()
        return await self._requests.answer(requests)

    def _record_consumed(self, batch: Fetched) -> None:
        for tp, count in batch.counts.items():
            self._metrics.record_consumed(tp.topic, count)
            highwater = self._consumer.highwater(tp)
            if highwater is not None:  # where the broker reports it
                lag = max(0, highwater - batch.ends[tp])
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
                self.lags[(tp.topic, tp.partition)] = lag


def _not_held(holds: dict[Partition, Hold], side: SideOutcome) -> bool:
    """A record of a held partition is read again later: its shadow answer waits for then."""
    hold = holds.get((side.record.topic, side.record.partition))
    return hold is None or side.record.offset < hold.offset
