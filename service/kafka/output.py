"""Writing a scored batch: every outcome appended to a producer batch for its output
partition (partitioned as the default partitioner would, by key), one send per partition
batch instead of one per record. Returns the futures of the broker's acknowledgements."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from service.kafka.partitioning import partitions_for_keys
from service.kafka.seams import BatchBuilderLike, OutputProducer
from service.metrics import Metrics
from service.scoring.outcome import Outcome
from service.scoring.predictions import (
    PredictionEncoder,
    dead_letter_headers,
    model_headers,
    source_template,
)

PARTITION_REFRESH_S = 30.0


class OutputWriter:
    """Predictions to the output topic, dead letters to the dead-letter topic, and side results
    (a route's shadow, say) to the topic of their role: ``<output topic>.<role>``."""

    def __init__(
        self, producer: OutputProducer, output_topic: str, dlq_topic: str, metrics: Metrics
    ) -> None:
        self._producer = producer
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self._metrics = metrics
        self._partitions: dict[str, tuple[int, float]] = {}
        self._keyless = itertools.count()

    def side_topic(self, role: str) -> str:
        return f"{self._output_topic}.{role}"

    async def write(self, outcomes: Sequence[Outcome]) -> list[asyncio.Future[Any]]:
        """Every output the outcomes cause; the acknowledgements of all of them come back, so
        the committer waits for each (side results too)."""
        scored = [o for o in outcomes if o.result_json is not None]
        futures = await self._write_predictions(self._output_topic, scored) if scored else []
        if len(scored) < len(outcomes):
            futures += await self._write_dead_letters(
                [o for o in outcomes if o.result_json is None]
            )
        sides: dict[str, list[Outcome]] = {}
        for outcome in scored:
            for side in outcome.side:
                sides.setdefault(side.role, []).append(
                    replace(outcome, result_json=side.result_json, model=side.serving, side=())
                )
        for role, side_outcomes in sides.items():
            futures += await self._write_predictions(self.side_topic(role), side_outcomes)
        return futures

    async def _write_predictions(
        self, topic: str, outcomes: Sequence[Outcome]
    ) -> list[asyncio.Future[Any]]:
        """One pass: each prediction is encoded and appended to its partition's batch."""
        encode = PredictionEncoder().encode
        # Header values shared by a model's predictions, and the sources' topic part, are
        # encoded once per batch.
        headers_of: dict[int, tuple[tuple[str, bytes], tuple[str, bytes]]] = {}
        source_templates: dict[str, bytes] = {}
        timestamp = int(time.time() * 1000)  # one CreateTime for the batch, not a clock read each
        batches = PartitionBatches(self._producer, topic)
        chosen = await self._partitions_for(topic, [o.record.key for o in outcomes])
        for outcome, partition in zip(outcomes, chosen, strict=True):
            record = outcome.record
            model = outcome.model
            shared = headers_of.get(id(model))
            if shared is None:
                assert model is not None
                shared = headers_of[id(model)] = model_headers(model)
            source = source_templates.get(record.topic)
            if source is None:
                source = source_templates[record.topic] = source_template(record.topic)
            headers = [shared[0], shared[1], ("source", source % (record.partition, record.offset))]
            batches.append(partition, timestamp, record.key, encode(outcome), headers)
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
