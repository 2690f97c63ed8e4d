"""Fetching one batch under the smart-batching policy (scoring/batching.py), and what a batch
knows about its offsets — kept per fetch, so nothing about offsets is computed per record."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from service.kafka.seams import DataConsumer, OffsetAndMetadata, TopicPartition
from service.scoring.batching import BatchPolicy
from service.scoring.wait_for_model import Hold, Partition


@dataclass
class Fetched:
    """A batch as fetched: its records, and per partition how many, where it starts and
    where it ends."""

    records: list[Any] = field(default_factory=list)
    counts: Counter[TopicPartition] = field(default_factory=Counter)
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    starts: dict[TopicPartition, int] = field(default_factory=dict)

    def add(self, fetched: dict[TopicPartition, list[Any]]) -> int:
        added = 0
        for tp, records in fetched.items():
            if not records:
                continue
            self.starts.setdefault(tp, records[0].offset)
            self.records.extend(records)
            self.counts[tp] += len(records)
            self.ends[tp] = records[-1].offset + 1
            added += len(records)
        return added

    def offsets(self, holds: dict[Partition, Hold]) -> dict[TopicPartition, OffsetAndMetadata]:
        """What to commit: the end of each partition, or where a held partition stopped."""
        offsets = {tp: OffsetAndMetadata(end, "") for tp, end in self.ends.items()}
        for (topic, partition), hold in holds.items():
            offsets[TopicPartition(topic, partition)] = OffsetAndMetadata(hold.offset, "")
        return offsets


async def fetch_batch(consumer: DataConsumer, policy: BatchPolicy) -> Fetched:
    """One batch: what is waiting (a short wait when nothing is), then more without waiting
    while the policy says so."""
    batch = Fetched()
    batch.add(await consumer.getmany(timeout_ms=100, max_records=policy.max_batch_size))
    if not batch.records:
        return batch
    started = time.monotonic()
    last = len(batch.records)
    while policy.keep_collecting(len(batch.records), (time.monotonic() - started) * 1000, last):
        room = policy.room(len(batch.records))
        last = batch.add(await consumer.getmany(timeout_ms=0, max_records=room))
    return batch


def rewind(consumer: DataConsumer, batch: Fetched) -> None:
    """Read the batch's records again, in order, from where it began — on the partitions this
    member still owns; the others are their new owners' to read."""
    assigned = consumer.assignment()
    for tp, start in batch.starts.items():
        if tp in assigned:
            consumer.seek(tp, start)
