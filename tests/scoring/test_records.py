from typing import Any

import numpy as np
import orjson
import pytest

from service.errors import DecodeError, InvalidRecordError
from service.inputs.binding import FieldBinder, normalise_name
from service.inputs.conversion import build_batch
from service.inputs.schema import InputSchema, InputSpec
from service.scoring.predictions import dead_letter_headers
from service.scoring.records import LocalRecord, decode_record


def rec(
    value: object, key: bytes | None = None, headers: tuple[tuple[str, bytes], ...] = ()
) -> LocalRecord:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return LocalRecord(raw, key=key, headers=headers, topic="data", partition=1, offset=7)


def test_decode_takes_data_type_and_id_from_the_record_first() -> None:
    d = decode_record(rec({"dataType": "wine", "id": 42, "a": 1}, key=b"k"), "default")
    assert (d.data_type, d.record_id, d.fields["a"]) == ("wine", "42", 1)


def test_decode_falls_back_to_header_default_key_and_source() -> None:
    assert decode_record(rec({"a": 1}, headers=(("data-type", b"beer"),)), None).data_type == "beer"
    d = decode_record(rec({"a": 1}), "wine")
    assert (d.data_type, d.record_id) == ("wine", "data/1/7")
    assert decode_record(rec({"a": 1}, key=b"key-9"), "wine").record_id == "key-9"


@pytest.mark.parametrize("value", [b"\xff\xfe", b"{broken", b"[1,2]", b"3"])
def test_undecodable_values_are_decode_errors(value: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_record(rec(value), "wine")


def test_missing_value_and_missing_data_type() -> None:
    with pytest.raises(DecodeError):
        decode_record(LocalRecord(None), "wine")
    with pytest.raises(InvalidRecordError, match="dataType"):
        decode_record(rec({"a": 1}), None)


def test_normalised_names() -> None:
    assert normalise_name("Fixed Acidity") == normalise_name("fixed_acidity") == "fixedacidity"
    assert normalise_name("free-sulfur  dioxide") == "freesulfurdioxide"


def test_binder_matches_exact_then_normalised_then_field_map() -> None:
    binder = FieldBinder(["fixed acidity", "pH", "x"], {"x": "renamed"})
    assert binder.resolve(("fixed_acidity", "pH", "renamed")) == ["fixed_acidity", "pH", "renamed"]
    assert binder.resolve(("fixed_acidity", "renamed")) == "pH"
    assert binder.resolve(("fixed_acidity", "pH", "x")) == "x"  # fieldMap wins over the name


def numbers(*names: str) -> tuple[FieldBinder, InputSchema]:
    """A binder and a schema of scalar numbers (nullable, as ``InputSchema.numeric`` makes)."""
    return FieldBinder(names, None), InputSchema.numeric(names)


def test_features_fast_path_keeps_column_order() -> None:
    binder, schema = numbers("b", "a")
    batch, good, errors = build_batch([{"a": 1, "b": 2}, {"b": 4, "a": 3.5}], binder, schema)
    assert batch.matrix().tolist() == [[2.0, 1.0], [4.0, 3.5]]
    assert good == [0, 1] and errors == {}


def test_features_isolate_bad_rows() -> None:
    binder, schema = numbers("a", "b")
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": 2},
        {"a": 1},
        {"a": None, "b": 1},
        {"a": "x", "b": 1},
        {"A": "5", "b": 6},
        {"a": [1], "b": 2},
        {"a": "inf", "b": 1},
    ]
    batch, good, errors = build_batch(rows, binder, schema)
    # A null is a missing value (NaN) for an input that takes one, not a bad row.
    assert good == [0, 2, 4]
    np.testing.assert_array_equal(batch.matrix(), [[1.0, 2.0], [np.nan, 1.0], [5.0, 6.0]])
    assert set(errors) == {1, 3, 5, 6}
    assert all(isinstance(e, InvalidRecordError) for e in errors.values())
    assert "missing feature 'b'" in str(errors[1])
    assert "is not a number" in str(errors[3])
    assert "is not a number" in str(errors[5])
    assert "is not finite" in str(errors[6])


def test_a_null_is_refused_where_the_input_takes_no_missing_value() -> None:
    binder = FieldBinder(["a", "b"], None)
    schema = InputSchema((InputSpec("a", "double", nullable=False), InputSpec("b", "double")))
    rows: list[dict[str, Any]] = [{"a": 1, "b": None}, {"a": None, "b": 2}, {"a": 3, "b": 4}]
    batch, good, errors = build_batch(rows, binder, schema)
    assert good == [0, 2]
    np.testing.assert_array_equal(batch.matrix(), [[1.0, np.nan], [3.0, 4.0]])
    assert list(errors) == [1]
    assert isinstance(errors[1], InvalidRecordError) and "is null" in str(errors[1])


def test_features_of_empty_batch() -> None:
    batch, good, errors = build_batch([], *numbers("a"))
    matrix = batch.matrix()
    assert batch.size == 0 and matrix.shape == (0, 1) and good == [] and errors == {}
    assert matrix.dtype == np.float64


def test_dead_letter_headers_keep_originals_and_add_reason() -> None:
    record = rec({"a": 1}, headers=(("trace", b"t1"),))
    headers = dead_letter_headers(record, InvalidRecordError("bad\nthing " + "z" * 1000), "m:2")
    names = [h[0] for h in headers]
    assert names == ["trace", "dlq.reason", "dlq.error", "dlq.source", "dlq.model"]
    values = dict(headers)
    assert values["dlq.reason"] == b"invalid-record"
    assert values["dlq.source"] == b"data/1/7"
    assert values["dlq.model"] == b"m:2"
    assert b"\n" not in values["dlq.error"] and len(values["dlq.error"].decode()) <= 512


def test_nested_values_are_invalid_not_extra_dimensions() -> None:
    # Found by the fuzz test: numpy turns [[[x], [y]]] into a 3-d array without complaint.
    batch, good, errors = build_batch(
        [{"a": [False], "b": [1]}, {"a": 1, "b": 2}], *numbers("a", "b")
    )
    assert good == [1] and list(errors) == [0] and batch.matrix().shape == (1, 2)


def test_ids_are_bounded_so_an_output_stays_near_its_input() -> None:
    """An id is written into every output of its record: a long own id is refused, and a
    long key (still the output's key) is not repeated as the id."""
    with pytest.raises(InvalidRecordError, match="longer than 1024"):
        decode_record(rec({"dataType": "wine", "id": "i" * 1025}), None)
    assert decode_record(rec({"dataType": "wine", "id": "i" * 1024}), None).record_id == "i" * 1024
    decoded = decode_record(rec({"dataType": "wine"}, key=b"\x01" * 100_000), None)
    assert decoded.record_id == "data/1/7"
    with pytest.raises(InvalidRecordError, match="string or a number"):
        decode_record(rec({"dataType": "wine", "id": [1]}), None)


def test_the_binder_does_not_keep_huge_layouts() -> None:
    binder = FieldBinder(["a"], None)
    huge = ("a", "b" * 100_000)
    assert binder.resolve(huge) == ["a"] and binder.resolve(("a",)) == ["a"]
    assert list(binder._cache) == [("a",)]
