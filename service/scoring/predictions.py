"""Everything about an output record, the contract's wire shapes in one room: the ``result``
object of each row of a batch (only answers that pass the checks), the prediction record (a
document for HTTP answers, bytes for the output topic) with its headers, and the dead letter's
headers. The bytes are put together from pieces encoded once per model and batch (the part
that is the same for every record costs nothing per record); tests check both forms are the
same JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import RecordError, ScoringError, sanitise
from service.routing.routes import Answerer
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.checks import refusal, row_problems
from service.scoring.outcome import Outcome, SideOutcome
from service.scoring.records import SourceRecord, source_of

Headers = list[tuple[str, bytes]]

# -- the result object of each row ------------------------------------------------------------


def publishable_results(result: BatchResult, runtime: RuntimeInfo) -> list[bytes | RecordError]:
    """Each row's ``result`` object as JSON, or, for a row the checks refuse (runtimes/
    checks.py: NaN, missing or unnormalised probabilities, non-finite values), its dead letter's
    error — naming the engine and what to do about it. Nothing refused is ever encoded into a
    prediction; only refused rows cost a step here."""
    rows = cast(list[bytes | RecordError], encode_results(result))
    for i, why in row_problems(result).items():
        rows[i] = ScoringError(refusal(runtime, why))
    return rows


def encode_results(result: BatchResult) -> list[bytes]:
    """``[orjson.dumps(row) for row in result.rows()]``, the same bytes, built column-wise:
    the batch's numbers are serialised in one call and each row is one template fill.
    Formatting floats one Python object at a time (and building a dict per row) is a
    large part of writing a prediction."""
    if result.kind == "classifier":
        assert result.labels is not None
        labels = _encoded(result.labels)
        if result.probabilities is None or result.classes is None:
            return [b'{"label":' + label + b"}" for label in labels]
        classes = list(result.classes)
        k = len(classes)
        if len(set(classes)) != k or np.shape(result.probabilities) != (len(labels), k):
            # Repeated classes (a dict merges them) or a shape rows() refuses: its way.
            return [orjson.dumps(row) for row in result.rows()]
        template = (
            b'{"label":%s,"probabilities":{'
            + b",".join(_literal(orjson.dumps(c)) + b":%s" for c in classes)
            + b"}}"
        )
        cells = _number_cells(result.probabilities)
        return [template % (label, *cells[i * k : i * k + k]) for i, label in enumerate(labels)]
    if result.kind == "regressor":
        assert result.values is not None
        if np.ndim(result.values) == 1:
            return [b'{"value":' + cell + b"}" for cell in _number_cells(result.values)]
    return [orjson.dumps(row) for row in result.rows()]


def _number_cells(numbers: npt.NDArray[Any]) -> list[bytes]:
    """Each number of an array as JSON (as orjson writes a float; NaN and infinities become
    null), in row-major order. Numbers never contain the separators split on here."""
    matrix = np.ascontiguousarray(numbers, dtype=np.float64)
    if matrix.size == 0:
        return []
    matrix = matrix.reshape(matrix.shape[0], -1)
    body = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY)
    return body[2:-2].replace(b"],[", b",").split(b",")


def _encoded(values: Sequence[Any]) -> list[bytes]:
    """Each value as JSON; a batch has few distinct labels, so each is encoded once (when they
    are of one type: 1, 1.0 and True are one dict key but three different JSON values)."""
    try:
        if len(set(map(type, values))) <= 1:
            cache = {value: orjson.dumps(value) for value in set(values)}
            return [cache[value] for value in values]
    except TypeError:  # unhashable labels
        pass
    return [orjson.dumps(value) for value in values]


def _literal(part: bytes) -> bytes:
    """A constant part of a %-template."""
    return part.replace(b"%", b"%%")


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
