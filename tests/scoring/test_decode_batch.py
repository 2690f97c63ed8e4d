"""The batch decoder and the feature matrix take shortcuts for the usual batch; whatever the
batch, their answers are the careful per-record ones."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import RecordError
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch
from service.inputs.schema import InputSchema, InputSpec, InputType, TypedBatch
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


def batch_values(batch: TypedBatch) -> list[list[object]]:
    """The batch row by row, as Python values (None for a missing value)."""
    columns = [batch.values(name) for name in batch.schema.names]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


@settings(max_examples=500, deadline=None)
@given(
    rows=feature_rows,
    columns=st.sampled_from([["a"], ["a", "b"], ["b", "a"]]),
    types=st.lists(st.sampled_from(["double", "float", "string"]), min_size=2, max_size=2),
    nullable=st.lists(st.booleans(), min_size=2, max_size=2),
)
def test_a_batch_is_typed_as_its_rows_are_one_by_one(
    rows: list[dict[str, object]],
    columns: list[str],
    types: list[InputType],
    nullable: list[bool],
) -> None:
    """Whatever the values, the batch built in one go (one pass over a column, or the whole
    matrix at once) holds what each row alone gives, and the rows refused alone are refused
    in the batch, with the same error."""
    binder = FieldBinder(columns, None)
    schema = InputSchema(
        tuple(
            InputSpec(name, type_, nullable=null)
            for name, type_, null in zip(columns, types, nullable, strict=False)
        )
    )
    batch, good, errors = build_batch(rows, binder, schema)
    careful_good: list[int] = []
    careful_errors: dict[int, str] = {}
    careful_values: list[list[object]] = []
    for i, row in enumerate(rows):
        alone, alone_good, alone_errors = build_batch([row], binder, schema)
        assert alone.size == len(alone_good) and set(alone_errors) | set(alone_good) == {0}
        if alone_good:
            careful_good.append(i)
            careful_values.extend(batch_values(alone))
        else:
            careful_errors[i] = str(alone_errors[0])
    assert good == careful_good
    assert {i: str(e) for i, e in errors.items()} == careful_errors
    assert batch.size == len(good)
    # NaN is read as None, so that a missing value compares equal to a missing value.
    assert batch_values(batch) == careful_values


@pytest.mark.parametrize(("type_", "bad"), [("integer", 1.5), ("boolean", 7), ("float", 1e300)])
def test_a_value_its_input_cannot_take_is_refused_whatever_else_the_batch_holds(
    type_: InputType, bad: float
) -> None:
    binder, schema = FieldBinder(["a"], None), InputSchema((InputSpec("a", type_),))
    # With a null beside it, the batch takes the careful path, which refuses the value.
    _, good, errors = build_batch([{"a": bad}, {"a": None}], binder, schema)
    assert good == [1] and list(errors) == [0]
    # Alone (or among numbers only), it must be refused too.
    _, good, errors = build_batch([{"a": bad}], binder, schema)
    assert good == [] and list(errors) == [0]
