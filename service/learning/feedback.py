"""Feedback records in: the features and the truth (``label`` for classification, ``target``
for regression), with optional ``id`` and ``dataType``; or only ``id`` and the truth, to be
joined to the data record with that id. Pure: no Kafka."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from service.errors import RecordError
from service.runtimes.base import label_text
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads, preview

Kind = Literal["classifier", "regressor"]


class InvalidFeedbackError(RecordError):
    """Feedback that cannot be learned from; it goes to the dead-letter topic."""

    reason = "invalid-feedback"


@dataclass(frozen=True, slots=True)
class Feedback:
    """``fields`` is None when the record names only its ``record_id``: the join supplies
    them. ``truth`` is a label (str) or a target (float)."""

    record_id: str | None
    fields: dict[str, Any] | None
    truth: str | float


def parse_feedback(
    value: bytes | None,
    kind: Kind,
    data_type: str,
    inputs: Sequence[str],
    classes: Sequence[str] | None = None,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> Feedback | None:
    """The record's feedback, or None when it is for another dataType. Raises
    InvalidFeedbackError for anything it cannot learn from, such as a label not among
    ``classes`` (a classifier's, when given)."""
    if value is None:
        raise InvalidFeedbackError("feedback has no value")
    try:
        document = loads(value, max_depth)
    except UnreadableJson as exc:
        raise InvalidFeedbackError(f"feedback is {exc}") from None
    if not isinstance(document, dict):
        raise InvalidFeedbackError("feedback must be a JSON object")
    other = document.get("dataType")
    if other is not None and other != data_type:
        return None
    truth = _truth(document, kind)
    if classes is not None and truth not in classes:
        raise InvalidFeedbackError(
            f"label {preview(truth)} is not one of the classes {list(classes)}"
        )
    record_id = document.get("id")
    if record_id is not None and not isinstance(record_id, str | int):
        raise InvalidFeedbackError("id must be a string")
    record_id = None if record_id is None else str(record_id)
    present = [name for name in inputs if name in document]
    if not present:
        if record_id is None:
            raise InvalidFeedbackError("feedback has neither features nor an id to join on")
        return Feedback(record_id, None, truth)
    missing = [name for name in inputs if name not in document]
    if missing:
        raise InvalidFeedbackError(f"feedback lacks feature {missing[0]!r}")
    return Feedback(record_id, {name: document[name] for name in inputs}, truth)


def features_row(fields: dict[str, Any], inputs: Sequence[str]) -> list[float]:
    """The features of a record (feedback's own, or the joined data record's) in input
    order; raises InvalidFeedbackError for a missing or non-numeric one."""
    row = []
    for name in inputs:
        value = fields.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFeedbackError(f"feature {name!r} is not a number: {preview(value)}")
        if not math.isfinite(value):
            raise InvalidFeedbackError(f"feature {name!r} is not finite")
        row.append(float(value))
    return row


def _truth(document: dict[str, Any], kind: Kind) -> str | float:
    if kind == "classifier":
        if "label" not in document or document["label"] is None:
            raise InvalidFeedbackError("classification feedback needs a label")
        return label_text(document["label"])
    target = document.get("target")
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise InvalidFeedbackError("regression feedback needs a finite numeric target")
    return float(target)
