"""What became of one input record: exactly one of a prediction (its answer) or a dead letter
(the error); and a side outcome for each answer a shadow gave it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from service.errors import RecordError
from service.scoring.records import DecodedGroup, SourceRecord
from service.serving.model import ServingModel
from service.serving.route import Answerer, SideAnswer


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


async def side_outcomes(
    after: Awaitable[list[SideAnswer]],
    group: DecodedGroup,
    records: Sequence[SourceRecord],
    data_type: str,
) -> list[SideOutcome]:
    """A route's side answers (rows of the group) as outcomes of their records."""
    answers = await after
    scored_ms = int(time.time() * 1000)
    positions, ids = group.positions, group.ids
    return [
        SideOutcome(
            records[positions[a.row]],
            a.result_json,
            a.serving,
            ids[a.row],
            data_type,
            scored_ms,
            a.primary_json,
        )
        for a in answers
    ]
