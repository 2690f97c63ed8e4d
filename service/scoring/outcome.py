"""What became of one input record: exactly one of a prediction (its answer) or a dead letter
(the error); and a side outcome for each answer a shadow gave it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from service.errors import RecordError
from service.scoring.records import SourceRecord
from service.serving.model import ServingModel
from service.serving.route import Answerer


@dataclass(slots=True)
class Outcome:
    """``result_json`` is the answer's ``result`` object as JSON (predictions.py builds the
    rest of the output record) or ``error`` says why there is none, never both. ``model`` is
    what answered (a model, an ensemble), or whose failure the error is, when one did."""

    record: SourceRecord
    result_json: bytes | None = None
    error: RecordError | None = None
    model: Answerer | None = None
    record_id: str = ""
    data_type: str = ""
    scored_ms: int = 0

    @property
    def result(self) -> dict[str, Any] | None:
        """The result object (for HTTP answers and tests; the hot path keeps the bytes)."""
        return None if self.result_json is None else orjson.loads(self.result_json)


@dataclass(slots=True)
class SideOutcome:
    """A shadow's answer for a record: it goes to the shadow topic, beside the record's
    prediction, with the primary's answer in brief (``primary_json``)."""

    record: SourceRecord
    result_json: bytes
    model: ServingModel
    record_id: str
    data_type: str
    scored_ms: int
    primary_json: bytes
