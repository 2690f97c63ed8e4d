"""The batch decoder takes shortcuts for the usual batch; whatever the batch, its answer is
the per-record decoder's."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import RecordError
from service.records import LocalRecord, decode_batch, decode_record

json_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
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
