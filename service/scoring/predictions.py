"""The output records, the contract's wire shapes in one room: the prediction record (a
document for HTTP answers, bytes for the output topic) with its headers, and the dead letter's
headers (each row's ``result`` object is runtimes/answers.py's). The bytes are put together
from pieces encoded once per model and batch (the part that is the same for every record costs
nothing per record); tests check both forms are the same JSON."""

from __future__ import annotations

from typing import Any

import orjson

from service.errors import RecordError, sanitise
from service.scoring.outcome import Outcome, SideOutcome
from service.scoring.records import SourceRecord, source_of
from service.serving.route import Answerer

Headers = list[tuple[str, bytes]]

# -- the prediction record ----------------------------------------------------------------------


def prediction_document(outcome: Outcome, with_source: bool = True) -> dict[str, Any]:
    record = outcome.record
    assert outcome.model is not None and outcome.result_json is not None
    doc: dict[str, Any] = {
        "id": outcome.record_id,
        "dataType": outcome.data_type,
        "model": orjson.loads(outcome.model.model_json),
        "result": outcome.result,
    }
    if with_source:
        doc["source"] = {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }
    ingested = record.timestamp if with_source else outcome.scored_ms
    doc["timestamps"] = {"ingested": ingested, "scored": outcome.scored_ms}
    return doc


def request_answer(outcome: Outcome, given_id: str | None) -> bytes:
    """A request's answer for one record, as JSON: ``prediction_document(outcome,
    with_source=False)`` with the record's own id (or null), or ``{"id", "error", "reason"}``.
    The result's bytes go in as the batch encoded them."""
    record_id = orjson.dumps(given_id)
    if outcome.result_json is None:
        assert outcome.error is not None
        error = outcome.error
        return orjson.dumps({"id": given_id, "error": str(error), "reason": error.reason})
    assert outcome.model is not None
    return b"".join(
        (
            b'{"id":',
            record_id,
            b',"dataType":',
            orjson.dumps(outcome.data_type),
            b',"model":',
            outcome.model.model_json,
            b',"result":',
            outcome.result_json,
            b',"timestamps":{"ingested":%d,"scored":%d}}' % (outcome.scored_ms, outcome.scored_ms),
        )
    )


class PredictionEncoder:
    """``encode(outcome)`` is ``orjson.dumps(prediction_document(outcome))``, faster: the
    parts that are the same for a model, dataType and topic are encoded once into a
    %-template, so a prediction costs one template fill (the id, the result's JSON from the
    batch, four integers). ``encode_side`` does the same for a shadow's record. Use one per
    batch: it caches its models' templates."""

    def __init__(self) -> None:
        self._templates: dict[tuple[int, str, str, bool], bytes] = {}

    def encode(self, outcome: Outcome) -> bytes:
        record = outcome.record
        template = self._templates.get((id(outcome.model), outcome.data_type, record.topic, False))
        if template is None:
            assert outcome.model is not None
            template = self._template(outcome.model, outcome.data_type, record.topic, b"")
        return template % (
            orjson.dumps(outcome.record_id),
            outcome.result_json,
            record.partition,
            record.offset,
            record.timestamp,
            outcome.scored_ms,
        )

    def encode_side(self, side: SideOutcome) -> bytes:
        """A shadow's record: its answer as a prediction, plus ``role`` and the primary's
        answer (``primary``)."""
        record = side.record
        template = self._templates.get((id(side.model), side.data_type, record.topic, True))
        if template is None:
            role = b',"role":"shadow","primary":%s'
            template = self._template(side.model, side.data_type, record.topic, role)
        return template % (
            orjson.dumps(side.record_id),
            side.result_json,
            side.primary_json,
            record.partition,
            record.offset,
            record.timestamp,
            side.scored_ms,
        )

    def _template(self, model: Answerer, data_type: str, topic: str, extra: bytes) -> bytes:
        def constant(value: object) -> bytes:
            return orjson.dumps(value).replace(b"%", b"%%")

        template = b"".join(
            (
                b'{"id":%s,"dataType":',
                constant(data_type),
                b',"model":',
                model.model_json.replace(b"%", b"%%"),
                b',"result":%s',
                extra,
                b',"source":{"topic":',
                constant(topic),
                b',"partition":%d,"offset":%d},"timestamps":{"ingested":%d,"scored":%d}}',
            )
        )
        self._templates[(id(model), data_type, topic, bool(extra))] = template
        return template


def side_document(side: SideOutcome) -> dict[str, Any]:
    """What ``encode_side`` writes, as a document (for tests and readers)."""
    record = side.record
    return {
        "id": side.record_id,
        "dataType": side.data_type,
        "model": orjson.loads(side.model.model_json),
        "result": orjson.loads(side.result_json),
        "role": "shadow",
        "primary": orjson.loads(side.primary_json),
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset},
        "timestamps": {"ingested": record.timestamp, "scored": side.scored_ms},
    }


def model_headers(model: Answerer) -> tuple[tuple[str, bytes], ...]:
    """The headers every prediction of a model (or ensemble) carries."""
    return model.headers


def source_template(topic: str) -> bytes:
    """The ``source`` header of a topic's records, as a %-template of (partition, offset)."""
    return topic.encode().replace(b"%", b"%%") + b"/%d/%d"


# -- the dead letter ------------------------------------------------------------------------------


def dead_letter_headers(record: SourceRecord, error: RecordError, model: str | None) -> Headers:
    """The original headers, then the dlq.* ones (a sanitised error of at most 512 chars)."""
    headers = list(record.headers)
    headers.append(("dlq.reason", error.reason.encode()))
    headers.append(("dlq.error", sanitise(str(error)).encode()))
    headers.append(("dlq.source", source_of(record).encode()))
    if model is not None:
        headers.append(("dlq.model", model.encode()))
    return headers
