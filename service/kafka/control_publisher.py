"""Writing the control topic: descriptors, routes and tombstones. The CLI publishes through it
on a producer of its own (``control_publisher``), a learner through the producer it owns;
building what is published (from a model file, from flags) is the CLI's (tools/publishing.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.kafka.clients import make_control_producer
from service.kafka.seams import EventProducer
from service.routing.route_spec import RouteSpec, route_key
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings


class ControlPublisher:
    """Descriptors, routes and tombstones to the control topic, through the producer it is
    given (the CLI's own, or a long-running part's, such as a learner's). Each send returns the
    record's offset in the control topic, which the service's events name."""

    def __init__(self, producer: EventProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, descriptor: ModelDescriptor) -> int:
        return await self._send(descriptor.name, descriptor.to_json())

    async def retire(self, name: str) -> int:
        """A tombstone: key = name, null value."""
        return await self._send(name, None)

    async def publish_route(self, route: RouteSpec) -> int:
        return await self._send(route_key(route.data_type), route.to_json())

    async def remove_route(self, data_type: str) -> int:
        """A tombstone on the route's key."""
        return await self._send(route_key(data_type), None)

    async def _send(self, key: str, value: bytes | None) -> int:
        metadata = await self._producer.send_and_wait(self._topic, value, key=key.encode())
        return int(metadata.offset)


@asynccontextmanager
async def control_publisher(settings: Settings) -> AsyncIterator[ControlPublisher]:
    """A publisher with a producer of its own, for one-off commands."""
    producer = make_control_producer(settings)
    try:
        await producer.start()  # inside: a producer that could not start is closed too
        yield ControlPublisher(producer, settings.control_topic)
    finally:
        await producer.stop()
