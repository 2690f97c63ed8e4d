"""`modelserve learn`: the learner as a process of its own, beside the service. It restores
from the control topic, reads feedback in its own consumer group, keeps recent data records
(for id-only feedback) and predictions (for the serving version's live quality), learns, and
publishes versions through the same publishing code as the CLI. Its HTTP port
(learner_http.py: health, state, metrics) answers from start to stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from service.http.server import HttpPart, make_server
from service.kafka.clients import make_producer
from service.kafka.topics import ensure_topics
from service.learning.catchup import read_to_end
from service.learning.feedback import InvalidFeedbackError
from service.learning.learner import LearnerCore, LearnerOptions
from service.learning.learner_http import create_learner_app
from service.learning.restore import latest_of
from service.learning.resume import starting_model
from service.learning.windows import RecentById
from service.scoring.predictions import dead_letter_headers
from service.settings import Settings
from service.tools.publishing import ControlPublisher
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads

log = logging.getLogger(__name__)

FEEDBACK_BATCH = 1000
# Reading data records and predictions takes at most this long a round (per topic), so that
# however busy those topics are, feedback is learned and a stop request is heard in between.
PUMP_BUDGET_S = 0.1
PUMP_BATCH = 5000
CATCH_UP_S = 60.0  # longest the data and predictions present at start are read for


class Learner:
    def __init__(self, settings: Settings, options: LearnerOptions, producer: Any = None) -> None:
        # ``producer``: an in-memory one in the loop tests; else the learner's own.
        self.settings = settings
        self.options = options
        self.core: LearnerCore | None = None
        self.http: HttpPart | None = None
        self._stopping = asyncio.Event()
        self._consumers: list[AIOKafkaConsumer] = []
        self._producer = producer or make_producer(
            settings, max_request_size=settings.max_descriptor_bytes + 1024
        )
        self._running: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        settings, options = self.settings, self.options
        await ensure_topics(settings)
        restored = await latest_of(settings, options.name)
        model = starting_model(restored, options)  # or CannotResumeError: the flags differ
        self.core = LearnerCore(
            options,
            model,
            restored,
            RecentById(settings.feedback_join_records, settings.feedback_join_seconds),
            RecentById(settings.feedback_join_records, settings.feedback_join_seconds),
            default_data_type=settings.default_data_type,
            max_json_depth=settings.max_json_depth,
        )
        log.info(
            "learner %s starts at version %s, %d records learned, feedback offsets %s",
            options.name,
            restored.version,
            model.learned,
            restored.offsets or "from the group's",
        )
        await self._producer.start()
        self._data = await self._reader(settings.data_topics)
        self._predictions = await self._reader([settings.output_topic])
        await self._catch_up()
        self._feedback = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.learner_group_id,
            client_id="modelserve-learner",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        self._consumers.append(self._feedback)
        core = self.core
        self._feedback.subscribe(
            [settings.feedback_topic], listener=_ResumeAt(self._feedback, lambda: core.offsets)
        )
        await self._feedback.start()
        app = create_learner_app(self.core, self.is_live)
        self.http = HttpPart(make_server(app, settings.http_host, settings.learner_http_port))
        await self.http.start()

    def is_live(self) -> bool:
        return self._running is None or not self._running.done()

    async def run(self) -> None:
        self._running = asyncio.current_task()
        core = self.core
        assert core is not None
        publisher = ControlPublisher(self._producer, self.settings.control_topic)
        while not self._stopping.is_set():
            await self._pump()
            batches = await self._feedback.getmany(timeout_ms=200, max_records=FEEDBACK_BATCH)
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
        core = self.core
        assert core is not None
        for reader, see in ((self._data, core.see_data), (self._predictions, self._see_answers)):
            if not await read_to_end(reader, see, deadline_s=CATCH_UP_S):
                log.warning(
                    "not caught up in %.0f s; id-only feedback may go unmatched", CATCH_UP_S
                )

    async def _pump(self) -> None:
        """What the data and predictions topics have for us now (no waiting), for at most
        PUMP_BUDGET_S each: whatever is left is read in the next round."""
        core = self.core
        assert core is not None
        for reader, see in ((self._data, core.see_data), (self._predictions, self._see_answers)):
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

    async def _reader(self, topics: list[str]) -> AIOKafkaConsumer:
        """Every partition of ``topics``, from ``feedback_join_seconds`` back (from the
        start where the broker cannot say where that is)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        self._consumers.append(consumer)
        await consumer.start()
        await consumer.topics()
        assignment = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or {0})
        ]
        consumer.assign(assignment)
        since = int((time.time() - self.settings.feedback_join_seconds) * 1000)
        try:
            found = await consumer.offsets_for_times({tp: since for tp in assignment})
            for tp in assignment:
                position = found.get(tp)
                if position is None:
                    await consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, position.offset)
        except Exception:
            await consumer.seek_to_beginning(*assignment)
        return consumer

    def request_stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.stop()
        for consumer in self._consumers:
            try:
                await consumer.stop()
            except Exception:
                log.exception("closing a consumer failed")
        await self._producer.stop()


class _ResumeAt(ConsumerRebalanceListener):  # type: ignore[misc]
    """Feedback resumes where the restored version stopped, not where the group did."""

    def __init__(self, consumer: AIOKafkaConsumer, offsets: Callable[[], dict[int, int]]) -> None:
        self._consumer = consumer
        self._offsets = offsets  # the learner's own: what it learned up to, restored or since

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        offsets = self._offsets()
        for tp in assigned:
            offset = offsets.get(tp.partition)
            if offset is not None:
                self._consumer.seek(tp, offset)


def _json(value: bytes | None) -> dict[str, Any]:
    try:
        parsed = loads(value or b"null", DEFAULT_MAX_JSON_DEPTH)  # predictions: shallow
    except UnreadableJson:
        return {}
    return parsed if isinstance(parsed, dict) else {}
