"""Model events to the events topic, keyed by model name so a model's events keep order."""

from __future__ import annotations

from service.kafka.seams import EventProducer
from service.serving.events import ModelEvent


class EventPublisher:
    def __init__(self, producer: EventProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def __call__(self, event: ModelEvent) -> None:
        key = event.name.encode() if event.name is not None else None
        # Awaiting the acknowledgement keeps events in order with the control log; the
        # control plane is not on the hot path, so the wait costs no throughput.
        await self._producer.send_and_wait(self._topic, event.to_json(), key=key)
