"""Model events to the events topic, keyed by model name so a model's events keep order."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import AIOKafkaProducer


class EventPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def __call__(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        key = name.encode() if isinstance(name, str) else None
        # Awaiting the acknowledgement keeps events in order with the control log; the
        # control plane is not on the hot path, so the wait costs no throughput.
        await self._producer.send_and_wait(self._topic, orjson.dumps(event), key=key)
