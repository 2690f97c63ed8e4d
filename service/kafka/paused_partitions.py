"""NO_MODEL_POLICY=wait on the consumer: a partition stopped at a record whose dataType has no
model (scoring/wait_for_model.py decides where) is rewound to that record and paused, so other
partitions keep flowing; it resumes once a model for that dataType is serving."""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.kafka.seams import DataConsumer, TopicPartition
from service.scoring.wait_for_model import Hold, Partition

log = logging.getLogger(__name__)


class PausedPartitions:
    def __init__(self, consumer: DataConsumer, has_model: Callable[[str], bool]) -> None:
        self._consumer = consumer
        self._has_model = has_model
        self._waiting: dict[TopicPartition, str] = {}

    def hold(self, holds: dict[Partition, Hold]) -> None:
        for (topic, partition), hold in holds.items():
            tp = TopicPartition(topic, partition)
            self._consumer.seek(tp, hold.offset)
            self._consumer.pause(tp)
            self._waiting[tp] = hold.data_type
            log.info("%s/%d waits for a model for dataType %r", topic, partition, hold.data_type)

    def resume_ready(self) -> None:
        """Resume the paused partitions whose model has arrived; forget revoked ones."""
        if not self._waiting:
            return
        assigned = self._consumer.assignment()
        for tp, data_type in list(self._waiting.items()):
            if tp not in assigned:
                del self._waiting[tp]
            elif self._has_model(data_type):
                del self._waiting[tp]
                self._consumer.resume(tp)
                log.info(
                    "%s/%d resumes: dataType %r has a model", tp.topic, tp.partition, data_type
                )
