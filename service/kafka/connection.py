"""The service's Kafka connection as a part: the topics it needs exist (brokers may not
auto-create them), and the shared producer (model events) is up. It stops after the parts that
publish through it."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from service.kafka.topics import ensure_topics
from service.settings import Settings


class KafkaConnection:
    name = "kafka"

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self.producer = producer
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        await ensure_topics(self._settings)
        await self.producer.start()

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        self._stopped.set()

    async def close(self) -> None:
        await self.producer.stop()
