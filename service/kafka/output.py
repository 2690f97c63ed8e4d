"""Writing a scored batch: every outcome appended to a producer batch for its output
partition (partitioned as the default partitioner would, by key), one send per partition
batch instead of one per record. Returns the futures of the broker's acknowledgements."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from ..engine import Outcome
from ..metrics import Metrics
from ..predictions import PredictionEncoder
from ..records import dead_letter_headers
from .partitioning import partitions_for_keys

PARTITION_REFRESH_S = 30.0


class OutputWriter:
    def __init__(
        self, producer: AIOKafkaProducer, output_topic: str, dlq_topic: str, metrics: Metrics
    ) -> None:
        self._producer = producer
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self._metrics = metrics
        self._partitions: dict[str, tuple[int, float]] = {}
        self._keyless = itertools.count()

    async def write(self, outcomes: Sequence[Outcome]) -> list[asyncio.Future[Any]]:
        encoder = PredictionEncoder()
        predictions: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        dead: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        # Header values shared by a model's predictions are encoded once per batch.
        model_headers: dict[int, tuple[tuple[str, bytes], tuple[str, bytes]]] = {}
        for outcome in outcomes:
            record = outcome.record
            if outcome.result_json is not None:
                model = outcome.model
                assert model is not None
                shared = model_headers.get(id(model))
                if shared is None:
                    shared = model_headers[id(model)] = (
                        ("model-name", model.name.encode()),
                        ("model-version", str(model.version).encode()),
                    )
                source = f"{record.topic}/{record.partition}/{record.offset}".encode()
                predictions.append(
                    (record.key, encoder.encode(outcome), [*shared, ("source", source)])
                )
            else:
                assert outcome.error is not None
                self._metrics.record_dead_letter(outcome.error.reason)
                label = outcome.model.label if outcome.model is not None else None
                dead.append(
                    (record.key, record.value, dead_letter_headers(record, outcome.error, label))
                )
        futures = await self._send(self._output_topic, predictions)
        if dead:
            futures += await self._send(self._dlq_topic, dead)
        return futures

    async def _send(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
    ) -> list[asyncio.Future[Any]]:
        if not messages:
            return []
        count = await self._partition_count(topic)
        keyless = next(self._keyless) % count
        chosen = partitions_for_keys([m[0] for m in messages], count, keyless)
        by_partition: dict[int, list[int]] = {}
        for i, p in enumerate(chosen):
            by_partition.setdefault(p, []).append(i)
        futures: list[asyncio.Future[Any]] = []
        for partition, indices in by_partition.items():
            batch = self._producer.create_batch()
            for i in indices:
                key, value, headers = messages[i]
                if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                    # Full: send it and go on in a new one (a record larger than a whole batch
                    # is still accepted by an empty one).
                    futures.append(
                        await self._producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self._producer.create_batch()
                    if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                        raise ValueError(f"a {len(value or b'')}-byte record does not fit a batch")
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        return futures

    async def _partition_count(self, topic: str) -> int:
        known = self._partitions.get(topic)
        now = time.monotonic()
        if known is None or now - known[1] > PARTITION_REFRESH_S:
            partitions = await self._producer.partitions_for(topic)
            known = (len(partitions), now)
            self._partitions[topic] = known
        return known[0]
