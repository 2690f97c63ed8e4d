"""An HTTP answer is written once, from the result's bytes: exactly the prediction document
without its source, carrying the record's own id (or null); an error is ``{id, error,
reason}``."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidRecordError
from service.scoring.outcome import Outcome
from service.scoring.predictions import prediction_document, request_answer
from service.scoring.records import LocalRecord
from tests.scoring.test_predictions import serving


@settings(max_examples=200, deadline=None)
@given(
    given_id=st.none() | st.text(max_size=30),
    data_type=st.text(min_size=1, max_size=20),
    value=st.floats(allow_nan=False, allow_infinity=False),
    scored_ms=st.integers(0, 2**62),
)
def test_the_answer_is_the_document_without_source(
    given_id: str | None, data_type: str, value: float, scored_ms: int
) -> None:
    outcome = Outcome(
        LocalRecord(None),
        result_json=orjson.dumps({"value": value}),
        model=serving(),
        record_id="/-1/-1",
        data_type=data_type,
        scored_ms=scored_ms,
    )
    expected = {**prediction_document(outcome, with_source=False), "id": given_id}
    answer = request_answer(outcome, given_id)
    assert orjson.loads(answer) == expected
    assert list(orjson.loads(answer)) == list(expected)  # the same order of keys


def test_an_error_is_id_error_and_reason() -> None:
    outcome = Outcome(LocalRecord(None), error=InvalidRecordError("missing feature 'x'"))
    assert orjson.loads(request_answer(outcome, "r1")) == {
        "id": "r1",
        "error": "missing feature 'x'",
        "reason": "invalid-record",
    }
