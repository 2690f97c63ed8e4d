"""Property-based: no feedback record can stop, crash or fool the learner (issue 18).

Anyone can write the feedback topic, and the learner reads it in one loop: a record that made
``parse_feedback`` raise anything but InvalidFeedbackError, or ``learn`` raise at all, would
stop learning for every record after it, and one that was not counted would make the
learner's figures lie. Records here are bytes, JSON of any shape, labels and features nested
past the parser's limit, numbers past a double, and feedback joined to data records that are
themselves poison."""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.learning.feedback import Feedback, InvalidFeedbackError, Kind, parse_feedback
from service.scoring.records import LocalRecord
from tests.learner_helpers import INPUTS
from tests.learning.test_learner import core

FIELDS = ["id", "label", "target", "dataType", *INPUTS]
UNFORESEEN = "could not learn from it"
DEEP_LABEL = b'{"label":' + b"[" * 1000 + b"]" * 1000 + b"}"
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["a", "b", "synth", "j1", "[[", "\u0000", "\ud7ff"])
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
# JSON texts no encoder writes: past the depth limit or past a double, or not UTF-8.
raw_values = (
    st.integers(1, 1500).map(lambda k: b"[" * k + b"]" * k)
    | st.integers(1, 1500).map(lambda k: b'{"l":' * k + b'"a"' + b"}" * k)
    | st.sampled_from([b"1e400", b"-1e400", b"9" * 400, b"1e308", b'"\xed\xa0\x80"', b"NaN"])
    | json_values.map(orjson.dumps)
)


def good(i: int, label: str = "a") -> dict[str, Any]:
    return {"id": f"g{i}", "label": label, "dataType": "synth", **{x: i / 7 for x in INPUTS}}


def with_raw(doc: dict[str, Any], name: str, raw: bytes) -> bytes:
    return orjson.dumps(doc)[:-1] + b',"' + name.encode() + b'":' + raw + b"}"


values = (
    st.none()
    | st.binary(max_size=120)
    | json_values.map(orjson.dumps)
    | st.dictionaries(st.sampled_from(FIELDS), json_values).map(orjson.dumps)
    | st.builds(with_raw, st.builds(good, st.integers(0, 9)), st.sampled_from(FIELDS), raw_values)
    | st.builds(good, st.integers(0, 9), st.sampled_from(["a", "b"])).map(orjson.dumps)
    | st.builds(
        lambda i, label, target: orjson.dumps({"id": f"j{i}", "label": label, "target": target}),
        st.integers(0, 9),
        st.sampled_from(["a", "b", "c"]),
        st.floats(allow_nan=False),
    )
    | st.just(DEEP_LABEL)
)
NOW_MS = int(time.time() * 1000)  # the join keeps data records an hour from their timestamp
predictions = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["j1", "g1"]) | json_values,
        "dataType": st.just("synth") | json_values,
        "model": st.fixed_dictionaries({"name": json_values, "version": json_values}) | json_values,
        "result": st.fixed_dictionaries({}, optional={"label": json_values, "value": json_values})
        | json_values,
    },
)
records = st.lists(values, max_size=12).map(
    lambda vs: [LocalRecord(v, None, (), "fb", 0, i, NOW_MS) for i, v in enumerate(vs)]
)
checks = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@checks
@given(value=values, regressor=st.booleans())
def test_parse_feedback_returns_or_refuses(value: bytes | None, regressor: bool) -> None:
    kind: Kind = "regressor" if regressor else "classifier"
    classes = None if regressor else ("a", "b")
    message = ""
    try:
        feedback = parse_feedback(value, kind, "synth", INPUTS, classes)
    except InvalidFeedbackError as exc:
        feedback, message = None, str(exc)
    assert len(message) <= 512 and "\n" not in message
    if feedback is None:
        return
    assert isinstance(feedback, Feedback)
    if regressor:
        assert isinstance(feedback.truth, float) and math.isfinite(feedback.truth)
    else:
        assert feedback.truth in ("a", "b")
    if feedback.fields is None:
        assert feedback.record_id is not None
    else:
        assert list(feedback.fields) == list(INPUTS)


def test_a_label_nested_past_the_parser_is_invalid_feedback() -> None:
    with pytest.raises(InvalidFeedbackError, match="nested deeper"):
        parse_feedback(DEEP_LABEL, "classifier", "synth", INPUTS, ("a", "b"))
    brackets = orjson.dumps({"label": "[" * 1000 + "]" * 1000, "id": "x"})
    with pytest.raises(InvalidFeedbackError, match="not one of the classes") as caught:
        parse_feedback(brackets, "classifier", "synth", INPUTS, ("a", "b"))
    assert len(str(caught.value)) < 200


@checks
@given(
    batch=records,
    data=records,
    predictions=st.lists(predictions),
    regressor=st.booleans(),
)
def test_the_learner_counts_every_record_and_never_stops(
    batch: list[LocalRecord],
    data: list[LocalRecord],
    predictions: list[dict[str, Any]],
    regressor: bool,
) -> None:
    learner = core("synth", algorithm="sgd-regressor", labels=None) if regressor else core()
    joinable = [{**good(i), "id": f"j{i}"} for i in range(5)]
    learner.see_data(
        [
            LocalRecord(orjson.dumps(d), topic="d", offset=i, timestamp=NOW_MS)
            for i, d in enumerate(joinable)
        ]
    )
    learner.see_data(data)  # poison data records, some with the ids feedback joins on
    learner.see_predictions(predictions)  # anyone can write the predictions topic too

    invalid = learner.learn(batch)
    counts = learner.counts
    assert counts.feedback == len(batch)
    assert counts.learned + counts.invalid + counts.other_data_type + counts.unmatched == len(batch)
    assert len(invalid) == counts.invalid
    positions = [r.offset for r, _ in invalid]
    assert positions == sorted(positions) and all(batch[r.offset] is r for r, _ in invalid)
    assert not [why for _, why in invalid if UNFORESEEN in why], invalid
    if batch:
        assert learner.offsets[0] == len(batch)

    event(f"learned {min(counts.learned, 3)}, invalid {min(counts.invalid, 3)}")
    event(f"unmatched {min(counts.unmatched, 1)}, joined {min(counts.joined, 1)}")
    # What comes after the poison is learned as if it had never been there.
    learned = counts.learned
    after = [good(i, "ab"[i % 2]) for i in range(6)]
    if regressor:
        after = [{**doc, "target": float(i)} for i, doc in enumerate(after)]
    assert (
        learner.learn([LocalRecord(orjson.dumps(d), partition=0, offset=99) for d in after]) == []
    )
    assert learner.counts.learned == learned + len(after)
