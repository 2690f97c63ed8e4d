"""Writing a scored batch: every outcome appended to a producer batch for its output
partition (partitioned as the default partitioner would, by key), one send per partition
batch instead of one per record. Returns the futures of the broker's acknowledgements. A
shadow's answers come later and go to the shadow topic the same way; the batch's commit
waits for them too."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from service.kafka.partitioning import partitions_for_keys
from service.kafka.seams import BatchBuilderLike, OutputProducer
from service.metrics import Metrics
from service.scoring.outcome import Outcome, SideOutcome
from service.scoring.predictions import (
    PredictionEncoder,
    dead_letter_headers,
    model_headers,
    source_template,
)
from service.scoring.records import SourceRecord

PARTITION_REFRESH_S = 30.0


SHADOW_HEADER = ("role", b"shadow")


class OutputWriter:
    """Predictions to the output topic, dead letters to the dead-letter topic, and a shadow's
    answers to the shadow topic."""

    def __init__(
        self,
        producer: OutputProducer,
        output_topic: str,
        dlq_topic: str,
        metrics: Metrics,
        shadow_topic: str | None = None,
    ) -> None:
        self._producer = producer
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self._shadow_topic = shadow_topic or f"{output_topic}.shadow"
        self._metrics = metrics
        self._partitions: dict[str, tuple[int, float]] = {}
        self._keyless = itertools.count()

    async def write(self, outcomes: Sequence[Outcome]) -> list[asyncio.Future[Any]]:
        """Every output the outcomes cause; their acknowledgements come back, so the
        committer waits for each."""
        scored = [o for o in outcomes if o.result_json is not None]
        futures = await self._write_predictions(scored) if scored else []
        if len(scored) < len(outcomes):
            futures += await self._write_dead_letters(
                [o for o in outcomes if o.result_json is None]
            )
        return futures

    async def write_records(
        self, topic: str, records: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]]
    ) -> list[asyncio.Future[Any]]:
        """Records made whole elsewhere, (key, value, headers) each, to ``topic``, partitioned
        by key (an Open Inference Protocol answer is one); returns the acknowledgements."""
        if not records:
            return []
        timestamp = int(time.time() * 1000)
        batches = PartitionBatches(self._producer, topic)
        chosen = await self._partitions_for(topic, [key for key, _, _ in records])
        for (key, value, headers), partition in zip(records, chosen, strict=True):
            batches.append(partition, timestamp, key, value, headers)
        return await batches.send()

    async def write_sides(
        self,
        sides: Sequence[Awaitable[list[SideOutcome]]],
        keep: Callable[[SideOutcome], bool] = lambda _: True,
    ) -> None:
        """A batch's shadow answers, once they are in, to the shadow topic; returns when the
        broker has acknowledged them all (raises if it did not). ``keep`` drops the answers
        of records that will be read again (a held partition's)."""
        outcomes = [o for side in sides for o in await side if keep(o)]
        if not outcomes:
            return
        encode = PredictionEncoder().encode_side
        outputs = [(o.record, o.model.headers, encode(o)) for o in outcomes]
        futures = await self._send(self._shadow_topic, outputs, extra=(SHADOW_HEADER,))
        await asyncio.gather(*futures)

    async def _write_predictions(self, outcomes: Sequence[Outcome]) -> list[asyncio.Future[Any]]:
        encode = PredictionEncoder().encode
        outputs = []
        for outcome in outcomes:
            assert outcome.model is not None
            outputs.append((outcome.record, model_headers(outcome.model), encode(outcome)))
        return await self._send(self._output_topic, outputs)

    async def _send(
        self,
        topic: str,
        outputs: Sequence[tuple[SourceRecord, tuple[tuple[str, bytes], ...], bytes]],
        extra: tuple[tuple[str, bytes], ...] = (),
    ) -> list[asyncio.Future[Any]]:
        """One pass: each output (its record, its model's headers, its value) appended to its
        partition's batch, keyed as its record."""
        # The sources' topic part is encoded once per batch.
        source_templates: dict[str, bytes] = {}
        timestamp = int(time.time() * 1000)  # one CreateTime for the batch, not a clock read each
        batches = PartitionBatches(self._producer, topic)
        chosen = await self._partitions_for(topic, [record.key for record, _, _ in outputs])
        for (record, shared, value), partition in zip(outputs, chosen, strict=True):
            source = source_templates.get(record.topic)
            if source is None:
                source = source_templates[record.topic] = source_template(record.topic)
            headers = [*shared, ("source", source % (record.partition, record.offset)), *extra]
            batches.append(partition, timestamp, record.key, value, headers)
        return await batches.send()

    async def _write_dead_letters(self, outcomes: Sequence[Outcome]) -> list[asyncio.Future[Any]]:
        batches = PartitionBatches(self._producer, self._dlq_topic)
        chosen = await self._partitions_for(self._dlq_topic, [o.record.key for o in outcomes])
        for outcome, partition in zip(outcomes, chosen, strict=True):
            assert outcome.error is not None
            record = outcome.record
            self._metrics.record_dead_letter(outcome.error.reason)
            label = outcome.model.label if outcome.model is not None else None
            headers = dead_letter_headers(record, outcome.error, label)
            batches.append(partition, None, record.key, record.value, headers)
        return await batches.send()

    async def _partitions_for(self, topic: str, keys: list[bytes | None]) -> list[int]:
        count = await self._partition_count(topic)
        return partitions_for_keys(keys, count, next(self._keyless) % count)

    async def _partition_count(self, topic: str) -> int:
        known = self._partitions.get(topic)
        now = time.monotonic()
        if known is None or now - known[1] > PARTITION_REFRESH_S:
            partitions = await self._producer.partitions_for(topic)
            known = (len(partitions), now)
            self._partitions[topic] = known
        return known[0]


class PartitionBatches:
    """Records of one topic collected into producer batches, one open batch per partition; a
    full batch is set aside and a new one started. ``send`` hands them all to the producer,
    each partition's in the order they were filled, and returns the acknowledgements."""

    def __init__(self, producer: OutputProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._open: dict[int, BatchBuilderLike] = {}
        self._full: list[tuple[int, BatchBuilderLike]] = []

    def append(
        self,
        partition: int,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = self._producer.create_batch()
        if batch.append(timestamp=timestamp, key=key, value=value, headers=headers) is not None:
            return
        self._full.append((partition, batch))
        batch = self._open[partition] = self._producer.create_batch()
        # A record larger than a whole batch is still accepted by an empty one.
        if batch.append(timestamp=timestamp, key=key, value=value, headers=headers) is None:
            raise ValueError(f"a {len(value or b'')}-byte record does not fit a batch")

    async def send(self) -> list[asyncio.Future[Any]]:
        futures: list[asyncio.Future[Any]] = []
        for partition, batch in [*self._full, *self._open.items()]:
            futures.append(await self._producer.send_batch(batch, self._topic, partition=partition))
        self._full.clear()
        self._open.clear()
        return futures
