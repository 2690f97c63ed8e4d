"""Output batching without a broker: aiokafka's own batch builder, a producer that records
what it is handed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from service.kafka.output import PartitionBatches


class RecordingProducer:
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[int, list[bytes]]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        batch.close()
        buffer = batch._build()  # the bytes the producer would put on the wire
        values = [bytes(r.value) for r in DefaultRecordBatch(bytes(buffer))]
        self.sent.append((partition, values))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        return future


async def test_full_batches_go_first_and_each_partition_keeps_its_order() -> None:
    producer = RecordingProducer(batch_size=300)  # a few 60-byte records per batch
    batches = PartitionBatches(producer, "out")  # type: ignore[arg-type]
    values = [b"%02d" % i + b"x" * 58 for i in range(20)]
    for i, value in enumerate(values):
        batches.append(i % 2, 1_700_000_000_000, None, value, [("h", b"1")])
    futures = await batches.send()
    assert len(futures) == len(producer.sent) > 2  # the batches did fill up
    # The full ones go first, each holding as many records as fit; then each partition's
    # open one, in the order the partitions were first written to.
    *full, (last, _), (other, _) = producer.sent
    capacity = max(len(vs) for _, vs in producer.sent)
    assert full and all(len(vs) == capacity for _, vs in full)
    assert (last, other) == (0, 1)
    for partition in (0, 1):
        received = [v for p, vs in producer.sent if p == partition for v in vs]
        assert received == values[partition::2]
    assert await batches.send() == []  # nothing is sent twice


async def test_a_record_larger_than_a_batch_goes_alone() -> None:
    producer = RecordingProducer(batch_size=100)
    batches = PartitionBatches(producer, "out")  # type: ignore[arg-type]
    batches.append(0, None, None, b"small", [])
    batches.append(0, None, None, b"y" * 500, [])  # an empty batch accepts it
    batches.append(0, None, None, b"after", [])
    await batches.send()
    assert [vs for _, vs in producer.sent] == [[b"small"], [b"y" * 500], [b"after"]]
