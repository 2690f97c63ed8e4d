"""The service's Kafka connection as a part: the topics it needs exist (brokers may not
auto-create them), and the shared producer (model events) is up. It stops after the parts that
publish through it. It is the first part to reach Kafka: when it cannot, it finds out why
(kafka/probe.py) and keeps the answer for readiness, and the runner retries it with backoff,
saying why each time."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from service.kafka.probe import KafkaUnreachableError, saying_why
from service.kafka.topics import ensure_topics
from service.settings import Settings


class KafkaConnection:
    name = "kafka"

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self.producer = producer
        self._stopped = asyncio.Event()
        self.problem: str | None = None  # why Kafka did not let us in, until it does

    async def start(self) -> None:
        try:
            async with saying_why(self._settings):
                await ensure_topics(self._settings)
                await self.producer.start()
        except KafkaUnreachableError as error:
            self.problem = str(error)
            raise
        self.problem = None

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        self._stopped.set()

    async def close(self) -> None:
        await self.producer.stop()
