"""Feedback records: features and truth, id-only for joining, other dataTypes passed over,
and every way one is refused (it goes to the dead-letter topic as invalid-feedback)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.learning.feedback import (
    Feedback,
    InvalidFeedbackError,
    features_row,
    parse_feedback,
)

INPUTS = ("a", "b")


def parse(doc: Any, kind: str = "classifier") -> Feedback | None:
    return parse_feedback(orjson.dumps(doc), kind, "d", INPUTS)  # type: ignore[arg-type]


def test_features_with_a_label_or_a_target_and_id_only_records() -> None:
    assert parse({"a": 1, "b": 2.5, "label": 6, "id": "r1"}) == Feedback(
        "r1", {"a": 1, "b": 2.5}, "6"
    )
    assert parse({"a": 1, "b": 2, "target": 5.5}, "regressor") == Feedback(
        None, {"a": 1, "b": 2}, 5.5
    )
    assert parse({"id": 42, "label": "x"}) == Feedback("42", None, "x")
    assert parse({"id": "r", "label": "x", "dataType": "other"}) is None
    assert parse({"a": 1, "b": 2, "label": 6.0, "dataType": "d"}) == Feedback(
        None, {"a": 1, "b": 2}, "6"
    )


@pytest.mark.parametrize(
    ("doc", "kind", "why"),
    [
        ([1, 2], "classifier", "JSON object"),
        ({"a": 1, "b": 2}, "classifier", "needs a label"),
        ({"a": 1, "b": 2, "target": "x"}, "regressor", "finite numeric target"),
        ({"a": 1, "label": 3}, "classifier", "lacks feature 'b'"),
        ({"label": 3}, "classifier", "neither features nor an id"),
        ({"id": [1], "label": 3}, "classifier", "id must be a string"),
    ],
)
def test_invalid_feedback_says_why(doc: Any, kind: str, why: str) -> None:
    with pytest.raises(InvalidFeedbackError, match=why):
        parse(doc, kind)
    assert InvalidFeedbackError.reason == "invalid-feedback"


def test_features_are_numbers_in_input_order() -> None:
    assert features_row({"b": 2, "a": 1.5}, INPUTS) == [1.5, 2.0]
    with pytest.raises(InvalidFeedbackError, match="'a' is not a number"):
        features_row({"a": "x", "b": 1}, INPUTS)
    with pytest.raises(InvalidFeedbackError, match="'b' is not a number"):
        features_row({"a": 1, "b": True}, INPUTS)
    with pytest.raises(InvalidFeedbackError, match="not JSON"):
        parse_feedback(b"{", "classifier", "d", INPUTS)
