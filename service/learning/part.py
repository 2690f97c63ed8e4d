"""The learning loop of `modelserve learn` as a part (parts.py; learning/process.py runs it
beside the learner's HTTP). It restores from the control topic, reads feedback in its own
consumer group, keeps recent data records (for id-only feedback) and predictions (for the
serving version's live quality), learns, and publishes versions through the control
publisher the CLI uses. Its Kafka clients are made in kafka/ and used through the seam's
Protocols."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from service.kafka.clients import (
    make_control_producer,
    open_feedback_consumer,
    open_recent_reader,
)
from service.kafka.control_publisher import ControlPublisher
from service.kafka.probe import saying_why
from service.kafka.seams import FeedbackConsumer, Fetcher, RecordProducer, TopicPartition
from service.kafka.topics import ensure_topics
from service.learning.catchup import read_to_end
from service.learning.feedback import InvalidFeedbackError
from service.learning.learner import LearnerCore, LearnerOptions
from service.learning.restore import latest_of
from service.learning.resume import starting_model
from service.learning.windows import RecentById
from service.scoring.predictions import dead_letter_headers
from service.settings import Settings
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads

log = logging.getLogger(__name__)

FEEDBACK_BATCH = 1000
# Reading data records and predictions takes at most this long a round (per topic), so that
# however busy those topics are, feedback is learned and a stop request is heard in between.
PUMP_BUDGET_S = 0.1
PUMP_BATCH = 5000
CATCH_UP_S = 60.0  # longest the data and predictions present at start are read for

C = TypeVar("C", bound=Fetcher)


class LearnerPart:
    """Its start restores and catches up (retried by the runner while the broker is away),
    its run learns until stopped; its clients are closed at close."""

    name = "learner"

    def __init__(
        self, settings: Settings, options: LearnerOptions, producer: RecordProducer | None = None
    ) -> None:
        # ``producer``: an in-memory one in the loop tests; else the learner's own.
        self.settings = settings
        self.options = options
        self.core: LearnerCore | None = None
        self._producer: RecordProducer = producer or make_control_producer(settings)
        self._producer_started = False
        # Set by start (or by the loop tests): the readers and the feedback group member.
        self._data: Fetcher | None = None
        self._predictions: Fetcher | None = None
        self._feedback: FeedbackConsumer | None = None
        self._consumers: list[Fetcher] = []  # every one opened, stopped at close
        self._stopping = asyncio.Event()
        self._running = False
        self._finished = asyncio.Event()

    async def start(self) -> None:
        """Restores the latest version (CannotResumeError when the flags do not match it),
        catches up on the data and predictions there are, and joins the feedback group. A
        retried start (the broker was away) begins again from the restore."""
        await self._stop_consumers()
        settings, options = self.settings, self.options
        async with saying_why(settings):  # a wrong password..., not "Unable to bootstrap"
            await ensure_topics(settings)
        restored = await latest_of(settings, options.name)
        model = starting_model(restored, options)  # or CannotResumeError: the flags differ
        core = LearnerCore(
            options,
            model,
            restored,
            RecentById(settings.feedback_join_records, settings.feedback_join_seconds),
            RecentById(settings.feedback_join_records, settings.feedback_join_seconds),
            default_data_type=settings.default_data_type,
            max_json_depth=settings.max_json_depth,
        )
        self.core = core
        log.info(
            "learner %s starts at version %s, %d records learned, feedback offsets %s",
            options.name,
            restored.version,
            model.learned,
            restored.offsets or "from the group's",
        )
        if not self._producer_started:
            await self._producer.start()
            self._producer_started = True
        since_s = settings.feedback_join_seconds
        self._data = await self._opened(open_recent_reader(settings, settings.data_topics, since_s))
        self._predictions = await self._opened(
            open_recent_reader(settings, [settings.output_topic], since_s)
        )
        await self._catch_up()
        self._feedback = await self._opened(open_feedback_consumer(settings, lambda: core.offsets))

    async def run(self) -> None:
        """Learns until stopped: a round reads what the data and predictions topics have,
        then a batch of feedback, and publishes each version that is due."""
        self._running = True
        try:
            await self._learn()
        finally:
            self._finished.set()

    async def _learn(self) -> None:
        core, feedback = self.core, self._feedback
        assert core is not None and feedback is not None
        publisher = ControlPublisher(self._producer, self.settings.control_topic)
        while not self._stopping.is_set():
            await self._pump()
            batches = await feedback.getmany(timeout_ms=200, max_records=FEEDBACK_BATCH)
            for records in batches.values():
                # In slices that end where a version is due: one every --publish-every records.
                while records and not self._stopping.is_set():
                    room = max(1, self.options.publish_every - core.since_judged)
                    await self._dead_letter(core.learn(records[:room]))
                    records = records[room:]
                    if core.due():
                        await self._publish(core, publisher)
            if core.due():
                await self._publish(core, publisher)

    async def _publish(self, core: LearnerCore, publisher: ControlPublisher) -> None:
        descriptor = core.candidate()
        if descriptor is None:
            return
        began = time.perf_counter()
        try:
            await publisher.publish(descriptor)
        except Exception as exc:
            # Not published: the learner goes on learning and offers a version again at the
            # next due time; nothing is committed, so a crash meanwhile loses nothing.
            log.warning("version %s not published, will try again: %s", descriptor.version, exc)
            return
        core.published(descriptor)
        offsets = {
            TopicPartition(self.settings.feedback_topic, p): o for p, o in core.offsets.items()
        }
        assert self._feedback is not None
        try:  # the descriptor is the truth; the group's offsets are a convenience
            await self._feedback.commit(offsets)
        except Exception as exc:
            log.warning("feedback offsets not committed (the version has them): %s", exc)
        log.info(
            "published %s:%s (%d records, windowed %s) in %.0f ms",
            descriptor.name,
            descriptor.version,
            core.model.learned,
            core.quality.windowed(),
            (time.perf_counter() - began) * 1000,
        )

    async def _catch_up(self) -> None:
        """The data records and predictions there at start, before any feedback is learned:
        feedback that names an id finds what it joins to from its first batch on."""
        for reader, see in self._readers():
            if not await read_to_end(reader, see, deadline_s=CATCH_UP_S):
                log.warning(
                    "not caught up in %.0f s; id-only feedback may go unmatched", CATCH_UP_S
                )

    async def _pump(self) -> None:
        """What the data and predictions topics have for us now (no waiting), for at most
        PUMP_BUDGET_S each: whatever is left is read in the next round."""
        for reader, see in self._readers():
            until = time.monotonic() + PUMP_BUDGET_S
            while not self._stopping.is_set() and time.monotonic() < until:
                batches = await reader.getmany(timeout_ms=0, max_records=PUMP_BATCH)
                if not batches:
                    break
                for records in batches.values():
                    see(records)

    def _see_answers(self, records: list[Any]) -> None:
        assert self.core is not None
        self.core.see_predictions([_json(r.value) for r in records])

    async def _dead_letter(self, invalid: list[tuple[Any, str]]) -> None:
        for record, why in invalid:
            error = InvalidFeedbackError(why)
            await self._producer.send_and_wait(
                self.settings.dlq_topic,
                record.value,
                key=record.key,
                headers=dead_letter_headers(record, error, None),
            )

    def _readers(self) -> list[tuple[Fetcher, Callable[[list[Any]], None]]]:
        """The data and predictions readers, each with what takes its records."""
        core = self.core
        assert core is not None and self._data is not None and self._predictions is not None
        return [(self._data, core.see_data), (self._predictions, self._see_answers)]

    async def _opened(self, opening: Awaitable[C]) -> C:
        consumer = await opening
        self._consumers.append(consumer)
        return consumer

    async def stop(self) -> None:
        """Ends the loop after its round (a version due is published first), waiting for it
        up to the drain timeout."""
        self._stopping.set()
        if self._running:
            try:
                await asyncio.wait_for(self._finished.wait(), self.settings.drain_timeout_s)
            except TimeoutError:
                log.warning("the learner did not stop in %.1fs", self.settings.drain_timeout_s)

    async def close(self) -> None:
        await self._stop_consumers()
        await self._producer.stop()

    async def _stop_consumers(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            try:
                await consumer.stop()
            except Exception:
                log.exception("closing a consumer failed")


def _json(value: bytes | None) -> dict[str, Any]:
    try:
        parsed = loads(value or b"null", DEFAULT_MAX_JSON_DEPTH)  # predictions: shallow
    except UnreadableJson:
        return {}
    return parsed if isinstance(parsed, dict) else {}
