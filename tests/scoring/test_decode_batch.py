"""The batch decoder and the feature matrix take shortcuts for the usual batch; whatever the
batch, their answers are the careful per-record ones."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import RecordError
from service.scoring.features import FieldBinder, build_features, build_features_row_by_row
from service.scoring.records import LocalRecord, decode_batch, decode_record

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
)
json_values = (
    scalars | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=3), scalars)
)

objects = st.fixed_dictionaries(
    {"x": st.floats(allow_nan=False)},
    optional={
        "dataType": st.sampled_from(["wine", "beer", ""]) | json_values,
        "id": json_values,
    },
)
values = (
    objects.map(orjson.dumps)
    | st.sampled_from([b"not json", b"[1, 2]", b'"text"', b"", b"{"])
    | st.none()
)
headers = st.just(()) | st.lists(
    st.sampled_from(
        [("data-type", b"beer"), ("content-type", b"application/json"), ("trace", b"1")]
    ),
    max_size=2,
).map(tuple)


@st.composite
def batches(draw: st.DrawFn) -> list[LocalRecord]:
    # Mostly uniform batches (the shortcut's case), sometimes anything.
    if draw(st.booleans()):
        value = draw(values)
        size = draw(st.integers(0, 6))
        return [
            LocalRecord(value, key=draw(st.none() | st.binary(max_size=4)), offset=i)
            for i in range(size)
        ]
    return draw(
        st.lists(
            st.builds(
                LocalRecord,
                values,
                key=st.none() | st.binary(max_size=4),
                headers=headers,
                offset=st.integers(0, 100),
            ),
            max_size=6,
        )
    )


def one_by_one(records: list[LocalRecord], default: str | None) -> dict[int, object]:
    answers: dict[int, object] = {}
    for i, record in enumerate(records):
        try:
            decoded = decode_record(record, default)
        except RecordError as exc:
            answers[i] = (type(exc), str(exc))
        else:
            answers[i] = (decoded.data_type, decoded.fields, decoded.record_id)
    return answers


@settings(max_examples=500, deadline=None)
@given(records=batches(), default=st.none() | st.sampled_from(["wine", ""]))
def test_batch_decoding_is_record_decoding(records: list[LocalRecord], default: str | None) -> None:
    groups, errors = decode_batch(records, default)
    answers: dict[int, object] = {i: (type(e), str(e)) for i, e in errors.items()}
    for data_type, group in groups.items():
        assert len(group.positions) == len(group.fields) == len(group.ids)
        for position, fields, record_id in zip(
            group.positions, group.fields, group.ids, strict=True
        ):
            assert position not in answers
            answers[position] = (data_type, fields, record_id)
    assert answers == one_by_one(records, default)


feature_values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**53), 2**53)
    | st.booleans()
    | st.none()
    | st.sampled_from(["1.5", "inf", "nan", "x", ""])
    | st.lists(st.floats(allow_nan=False), max_size=2)
)
feature_rows = st.lists(
    st.fixed_dictionaries({}, optional={"a": feature_values, "b": feature_values}), max_size=6
)


@settings(max_examples=500, deadline=None)
@given(rows=feature_rows, columns=st.sampled_from([["a"], ["a", "b"], ["b", "a"]]))
def test_fast_feature_matrix_is_the_careful_one(
    rows: list[dict[str, object]], columns: list[str]
) -> None:
    """Whatever the values, the one-pass matrix equals the row-by-row one, and the rows the
    careful path refuses are refused either way."""
    binder = FieldBinder(columns, None)
    matrix, good, errors = build_features(rows, binder)
    careful_matrix, careful_good, careful_errors = build_features_row_by_row(rows, binder)
    assert good == careful_good
    assert {i: str(e) for i, e in errors.items()} == {i: str(e) for i, e in careful_errors.items()}
    np.testing.assert_array_equal(matrix, careful_matrix)
