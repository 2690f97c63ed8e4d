"""aiokafka's rebalance callbacks, handed to whatever handles them (the data loop): the
listener knows nothing of the loop but the two calls of the RebalanceHandler seam."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import ConsumerRebalanceListener

from service.kafka.seams import RebalanceHandler, TopicPartition


class RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, handler: RebalanceHandler) -> None:
        self._handler = handler

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._handler.partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._handler.partitions_assigned(assigned)
