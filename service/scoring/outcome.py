"""What became of one input record: exactly one of a prediction (its answer, by one model) or
a dead letter (the error), plus any side results its route produced (a shadow's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from service.errors import RecordError
from service.routing.routes import SideResult
from service.routing.serving import ServingModel
from service.scoring.records import SourceRecord


@dataclass(slots=True)
class Outcome:
    """``result_json`` is the answer's ``result`` object as JSON (predictions.py builds the
    rest of the output record) or ``error`` says why there is none, never both. ``model`` is
    the model that answered, or whose failure the error is, when one did."""

    record: SourceRecord
    result_json: bytes | None = None
    error: RecordError | None = None
    model: ServingModel | None = None
    record_id: str = ""
    data_type: str = ""
    scored_ms: int = 0
    side: tuple[SideResult, ...] = ()

    @property
    def result(self) -> dict[str, Any] | None:
        """The result object (for HTTP answers and tests; the hot path keeps the bytes)."""
        return None if self.result_json is None else orjson.loads(self.result_json)
