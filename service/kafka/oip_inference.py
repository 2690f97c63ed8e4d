"""Open Inference Protocol requests on Kafka, answered in the consumer group: the data loop
hands over the records of the OIP input topic from each batch it fetched, and they are
answered here through ``Inference.infer``, all of them at once, so that the requests for one
model are scored in one model call (oip/batching.py). Each record ends as exactly one output:
its answer (keyed by its request id, for the OIP output topic) or itself as a dead letter with
the reason; nothing one record holds escapes into the loop that serves them all. The data loop
writes both, and commits the batch once the broker has them, as for the data topics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from service.errors import (
    InvalidRecordError,
    ModelUnavailableError,
    NoModelError,
    RecordError,
    ScoringError,
)
from service.kafka.oip_records import CONTENT_TYPE_HEADER, Headers, cloud_event_headers, read_call
from service.kafka.topics import OUTPUT_MAX_MESSAGE_BYTES
from service.metrics import Metrics
from service.oip.inference import SERVER_NAME, Inference
from service.oip.messages import ModelLoadingError, OipError
from service.scoring.outcome import Outcome
from service.scoring.records import SourceRecord, source_of

log = logging.getLogger(__name__)

PROTOCOL = "kafka"  # the inference metrics' protocol label
# The largest answer written: the output topics take OUTPUT_MAX_MESSAGE_BYTES, and the key and
# headers (the request id three times, the model name twice) fit in the rest. A larger answer
# would be refused by the broker at every try, and stop the loop each time.
MAX_ANSWER_BYTES = OUTPUT_MAX_MESSAGE_BYTES - 64 * 1024


class Answer(NamedTuple):
    """An answer as the output writer takes a record of its own."""

    key: bytes
    value: bytes
    headers: Headers


@dataclass
class Answered:
    """A batch's requests: the answers, and the records that are dead letters (their error
    says why)."""

    answers: list[Answer] = field(default_factory=list)
    dead_letters: list[Outcome] = field(default_factory=list)


class KafkaInference:
    def __init__(
        self,
        inference: Inference,
        metrics: Metrics,
        input_topic: str,
        output_topic: str,
        max_json_depth: int,
        namespace: str | None = None,
    ) -> None:
        self._inference = inference
        self._metrics = metrics
        self.input_topic = input_topic
        self.output_topic = output_topic
        self._max_json_depth = max_json_depth
        self._namespace = namespace  # named in the answers' CloudEvents headers, as MLServer

    async def answer(self, records: Sequence[SourceRecord]) -> Answered:
        """Every record's answer or dead letter. The requests are all in flight together:
        those for one model wait for each other in its queue and are scored together."""
        answered = Answered()
        for outcome in await asyncio.gather(*map(self._answer, records)):
            if isinstance(outcome, Answer):
                answered.answers.append(outcome)
            else:
                answered.dead_letters.append(outcome)
        # A request answered is a record scored, as a data record predicted is: the totals'
        # consumed = scored + dead letters holds for this topic too.
        self._metrics.record_answered(len(answered.answers))
        return answered

    async def _answer(self, record: SourceRecord) -> Answer | Outcome:
        try:
            return await self._answer_or_raise(record)
        except RecordError as exc:
            return Outcome(record, error=exc)
        except Exception as exc:  # a bug one request reached costs that request, not the loop
            log.exception("answering the inference request at %s failed", source_of(record))
            failed = ScoringError(f"the service could not answer it: {type(exc).__name__}")
            return Outcome(record, error=failed)

    async def _answer_or_raise(self, record: SourceRecord) -> Answer:
        started = time.perf_counter()
        try:
            call = read_call(record, self._max_json_depth)
        except RecordError:
            # Counted as a refused request, as REST counts a body it cannot read.
            self._metrics.record_inference(PROTOCOL, "400", time.perf_counter() - started)
            raise
        try:
            response = await self._inference.infer(call.model, call.version, call.request, PROTOCOL)
            value = call.codec.write(response)
        except OipError as exc:
            raise record_error(exc) from None
        if len(value) > MAX_ANSWER_BYTES:
            raise InvalidRecordError(
                f"its answer is {len(value)} bytes, more than an answer may be "
                f"({MAX_ANSWER_BYTES}): send fewer rows per request"
            )
        headers = cloud_event_headers(response, SERVER_NAME, self._namespace)
        if call.codec.answer_content_type is not None:
            headers.append((CONTENT_TYPE_HEADER, call.codec.answer_content_type.encode()))
        return Answer(call.request_id.encode(), value, headers)


def record_error(exc: OipError) -> RecordError:
    """A refused request's dead-letter reason, from its status: 400 the request is wrong,
    404 no such model or version, or one still loading (there is no client to ask to try
    again later), anything else the service could not score it."""
    if exc.status == 400:
        return InvalidRecordError(exc.message)
    if exc.status == 404 or isinstance(exc, ModelLoadingError):
        return NoModelError(exc.message)
    if exc.status == 503:  # a remote model's server that does not answer
        return ModelUnavailableError(exc.message)
    return ScoringError(exc.message)
