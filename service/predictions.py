"""A scored record as the contract's prediction object: a document for HTTP answers, bytes
for the output topic. The bytes are put together from pieces encoded once per model and batch
(the part that is the same for every record costs nothing per record); tests check both forms
are the same JSON."""

from __future__ import annotations

from typing import Any

import orjson

from .engine import Outcome


def prediction_document(outcome: Outcome, with_source: bool = True) -> dict[str, Any]:
    record = outcome.record
    assert outcome.model is not None and outcome.result_json is not None
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
    """``encode(outcome)`` is ``orjson.dumps(prediction_document(outcome))``, faster: the
    parts that are the same for a model, dataType and topic are encoded once into a
    %-template, so a prediction costs one template fill (the id, the result's JSON from the
    batch, four integers). Use one per batch: it caches its models' templates."""

    def __init__(self) -> None:
        self._templates: dict[tuple[int, str, str], bytes] = {}

    def encode(self, outcome: Outcome) -> bytes:
        record = outcome.record
        template = self._templates.get((id(outcome.model), outcome.data_type, record.topic))
        if template is None:
            template = self._template(outcome)
        return template % (
            orjson.dumps(outcome.record_id),
            outcome.result_json,
            record.partition,
            record.offset,
            record.timestamp,
            outcome.scored_ms,
        )

    def _template(self, outcome: Outcome) -> bytes:
        model = outcome.model
        assert model is not None
        topic = outcome.record.topic

        def constant(value: object) -> bytes:
            return orjson.dumps(value).replace(b"%", b"%%")

        template = b"".join(
            (
                b'{"id":%s,"dataType":',
                constant(outcome.data_type),
                b',"model":',
                constant({"name": model.name, "version": model.version}),
                b',"result":%s,"source":{"topic":',
                constant(topic),
                b',"partition":%d,"offset":%d},"timestamps":{"ingested":%d,"scored":%d}}',
            )
        )
        self._templates[(id(model), outcome.data_type, topic)] = template
        return template
