"""The data loop: fetch a batch from the consumer group, score it, produce every outcome,
wait for the broker's acknowledgements, then commit — in that order, so an offset is never
committed ahead of its prediction or dead letter (at-least-once)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from ..batching import BatchPolicy
from ..engine import Engine, Outcome
from ..holding import Hold, Partition, hold_back
from ..metrics import Metrics
from ..records import SourceRecord, dead_letter_headers, prediction_headers, source_of

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The broker did not acknowledge an output: nothing past it may be committed."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: DataLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # The batch in flight is finished and committed before the partitions go: waiting
        # for the lock is waiting for it.
        async with self._loop.batch_lock:
            log.info(
                "partitions revoked: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in revoked)
            )

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
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
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._engine = engine
        self._policy = policy
        self._metrics = metrics
        self._topics = list(topics)
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self.batch_lock = asyncio.Lock()
        self.assigned = asyncio.Event()
        self._stopping = False
        self._wait_for_models = wait_for_models
        self._waiting: dict[TopicPartition, str] = {}

    async def start(self) -> None:
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._consumer.start()

    def request_stop(self) -> None:
        """Stop after the batch in flight (it is produced and committed first)."""
        self._stopping = True

    async def run(self) -> None:
        while not self._stopping:
            self._resume_ready()
            async with self.batch_lock:
                records = await self._collect()
                if records:
                    await self._process(records)

    async def stop(self) -> None:
        # Leaves the group, so the partitions move to the other replicas at once.
        await self._consumer.stop()

    async def _collect(self) -> list[Any]:
        """One batch, per the smart-batching policy (see batching.py)."""
        fetched = await self._consumer.getmany(
            timeout_ms=100, max_records=self._policy.max_batch_size
        )
        records = _flatten(fetched)
        if not records:
            return records
        started = time.monotonic()
        last = len(records)
        while self._policy.keep_collecting(len(records), (time.monotonic() - started) * 1000, last):
            more = _flatten(
                await self._consumer.getmany(
                    timeout_ms=0, max_records=self._policy.room(len(records))
                )
            )
            last = len(more)
            records.extend(more)
        return records

    async def _process(self, records: list[Any]) -> None:
        for topic, count in Counter(r.topic for r in records).items():
            self._metrics.record_consumed(topic, count)
        outcomes = await self._engine.score(records)
        holds: dict[Partition, Hold] = {}
        if self._wait_for_models:
            outcomes, holds = hold_back(outcomes)
        acks = [await self._send(outcome) for outcome in outcomes]
        results = await asyncio.gather(*acks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self._metrics.produce_errors.inc(len(failures))
            raise DeliveryError(
                f"{len(failures)} of {len(results)} outputs not acknowledged: {failures[0]!r}"
            )
        await self._commit(records, holds)
        for (topic, partition), hold in holds.items():
            tp = TopicPartition(topic, partition)
            # Read the held records again once their model is there; until then the
            # partition is paused, so other partitions are not held up.
            self._consumer.seek(tp, hold.offset)
            self._consumer.pause(tp)
            self._waiting[tp] = hold.data_type
            log.info("%s/%d waits for a model for dataType %r", topic, partition, hold.data_type)

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

    async def _send(self, outcome: Outcome) -> asyncio.Future[Any]:
        record: SourceRecord = outcome.record
        if outcome.prediction is not None:
            assert outcome.model is not None
            future: asyncio.Future[Any] = await self._producer.send(
                self._output_topic,
                orjson.dumps(outcome.prediction),
                key=record.key,
                headers=prediction_headers(
                    outcome.model.name, outcome.model.version, source_of(record)
                ),
            )
            return future
        assert outcome.error is not None
        self._metrics.record_dead_letter(outcome.error.reason)
        model = outcome.model.label if outcome.model is not None else None
        future = await self._producer.send(
            self._dlq_topic,
            record.value,
            key=record.key,
            headers=dead_letter_headers(record, outcome.error, model),
        )
        return future

    async def _commit(self, records: list[Any], holds: dict[Partition, Hold]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = OffsetAndMetadata(
                record.offset + 1, ""
            )
        for (topic, partition), hold in holds.items():
            offsets[TopicPartition(topic, partition)] = OffsetAndMetadata(hold.offset, "")
        try:
            await self._consumer.commit(offsets)
            self._metrics.commits.labels("ok").inc()
        except CommitFailedError as exc:
            # The group moved on (rebalance): the new owner re-reads from the last commit, so
            # these records may be scored twice but none is lost.
            self._metrics.commits.labels("failed").inc()
            log.warning("offset commit refused after a rebalance: %s", exc)
        except KafkaError as exc:
            self._metrics.commits.labels("failed").inc()
            log.warning("offset commit failed (will be covered by the next one): %s", exc)


def _flatten(fetched: dict[TopicPartition, list[Any]]) -> list[Any]:
    if len(fetched) == 1:
        return list(next(iter(fetched.values())))
    return [record for records in fetched.values() for record in records]
