"""Held partitions on the consumer: a partition stopped at a record that cannot be answered now
(scoring/wait_for_model.py decides where) is rewound to that record and paused, so other
partitions keep flowing. It resumes once a model for its dataType is serving (no model), or
once its back-off has passed (a remote model's server that did not answer: the batch is then
read and tried again, and held again if the server still does not answer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.kafka.seams import DataConsumer, TopicPartition
from service.scoring.wait_for_model import Hold, Partition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Waiting:
    hold: Hold
    retry_at: float | None  # monotonic seconds; None: until a model serves


class PausedPartitions:
    def __init__(
        self,
        consumer: DataConsumer,
        has_model: Callable[[str], bool],
        give_up_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._has_model = has_model
        self._give_up_s = give_up_s
        self._clock = clock
        self._waiting: dict[TopicPartition, _Waiting] = {}
        # Since when each partition has been waiting for a remote model's server (the give-up
        # bound is the partition's, whatever records it holds at, until it gets past them;
        # waiting for a model to be published does not count).
        self._since: dict[Partition, float] = {}

    def hold(self, holds: dict[Partition, Hold]) -> None:
        now = self._clock()
        for (topic, partition), hold in holds.items():
            tp = TopicPartition(topic, partition)
            self._consumer.seek(tp, hold.offset)
            self._consumer.pause(tp)
            retry_at = None if hold.retry_after_s is None else now + hold.retry_after_s
            self._waiting[tp] = _Waiting(hold, retry_at)
            if hold.retry_after_s is None:
                self._since.pop((topic, partition), None)
            else:
                self._since.setdefault((topic, partition), now)
            if hold.retry_after_s is None:
                log.info(
                    "%s/%d waits for a model for dataType %r", topic, partition, hold.data_type
                )
            else:
                log.info(
                    "%s/%d holds at offset %d: the model of dataType %r does not answer; "
                    "trying again in %.1fs",
                    topic,
                    partition,
                    hold.offset,
                    hold.data_type,
                    hold.retry_after_s,
                )

    def gave_up(self, partition: Partition) -> float | None:
        """The seconds ``partition`` has waited for a remote model's server, when past the
        give-up bound (its records that still cannot be answered then go out as dead
        letters, all of them)."""
        since = self._since.get(partition)
        if self._give_up_s is None or since is None:
            return None
        waited = self._clock() - since
        return waited if waited >= self._give_up_s else None

    def settled(self, partitions: Iterable[Partition]) -> None:
        """Partitions a batch got past without holding: their wait, if any, is over."""
        if not self._since:  # the usual case: nothing waits for a server
            return
        for partition in partitions:
            self._since.pop(partition, None)

    def resume_ready(self) -> None:
        """Resume the paused partitions whose model has arrived or whose back-off has passed;
        forget revoked ones."""
        if not self._waiting:
            return
        assigned = self._consumer.assignment()
        now = self._clock()
        for tp, waiting in list(self._waiting.items()):
            if tp not in assigned:
                del self._waiting[tp]
                self._since.pop((tp.topic, tp.partition), None)
            elif waiting.retry_at is not None and now >= waiting.retry_at:
                del self._waiting[tp]
                self._consumer.resume(tp)
            elif waiting.retry_at is None and self._has_model(waiting.hold.data_type):
                del self._waiting[tp]
                self._consumer.resume(tp)
                log.info(
                    "%s/%d resumes: dataType %r has a model",
                    tp.topic,
                    tp.partition,
                    waiting.hold.data_type,
                )

    @property
    def waiting(self) -> int:
        """Partitions held now."""
        return len(self._waiting)
