"""A scored record as the contract's prediction object: a document for HTTP answers, bytes
for the output topic. The bytes are put together from pieces encoded once per model and batch
(the part that is the same for every record costs nothing per record); tests check both forms
are the same JSON."""

from __future__ import annotations

from typing import Any

import orjson

from .engine import Outcome
from .registry import ServingModel


def prediction_document(outcome: Outcome, with_source: bool = True) -> dict[str, Any]:
    record = outcome.record
    assert outcome.model is not None and outcome.result is not None
    doc: dict[str, Any] = {
        "id": outcome.record_id,
        "dataType": outcome.data_type,
        "model": {"name": outcome.model.name, "version": outcome.model.version},
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
    """``encode(outcome)`` is ``orjson.dumps(prediction_document(outcome))``, faster. Use one
    per batch: it caches the pieces of the batch's models and topics."""

    def __init__(self) -> None:
        self._model_parts: dict[tuple[int, str], bytes] = {}
        self._topic_parts: dict[str, bytes] = {}

    def encode(self, outcome: Outcome) -> bytes:
        record = outcome.record
        model = outcome.model
        assert model is not None
        middle = self._model_parts.get((id(model), outcome.data_type))
        if middle is None:
            middle = self._model_part(model, outcome.data_type)
        topic = self._topic_parts.get(record.topic)
        if topic is None:
            topic = self._topic_parts[record.topic] = (
                b',"source":{"topic":' + orjson.dumps(record.topic) + b',"partition":'
            )
        return b"".join(
            (
                b'{"id":',
                orjson.dumps(outcome.record_id),
                middle,
                orjson.dumps(outcome.result),
                topic,
                b"%d" % record.partition,
                b',"offset":',
                b"%d" % record.offset,
                b'},"timestamps":{"ingested":',
                b"%d" % record.timestamp,
                b',"scored":',
                b"%d" % outcome.scored_ms,
                b"}}",
            )
        )

    def _model_part(self, model: ServingModel, data_type: str) -> bytes:
        part = b"".join(
            (
                b',"dataType":',
                orjson.dumps(data_type),
                b',"model":',
                orjson.dumps({"name": model.name, "version": model.version}),
                b',"result":',
            )
        )
        self._model_parts[(id(model), data_type)] = part
        return part
