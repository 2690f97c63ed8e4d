"""Binding record fields to inputs, and whole batches, in service/inputs/conversion.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from service.errors import RecordError
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch, typed_batch, typed_columns
from service.inputs.schema import InputSchema, InputSpec
from tests.inputs.conversion_cases import PATHS, Converted, convert

# -- binding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_missing_field_is_refused_naming_it(path: str) -> None:
    specs = [InputSpec("a"), InputSpec("x")]
    if path == "careful":
        specs.append(InputSpec("note", "string"))
    rows: list[dict[str, Any]] = [{"a": 1, "x": 2, "note": "n"}, {"a": 3, "note": "n"}]
    batch, good, errors = convert(specs, rows)
    assert good == [0]
    assert errors == {1: "missing feature 'x'"}
    assert batch.columns["x"].tolist() == [2.0]


@pytest.mark.parametrize("path", PATHS)
def test_rows_of_different_key_layouts_bind_per_row(path: str) -> None:
    specs = [InputSpec("a"), InputSpec("b")]
    if path == "careful":
        specs.append(InputSpec("note", "string"))
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": 2},
        {"b": 3, "a": 4, "extra": "x"},
        {"A": 5, "B": 6},
        {"a": 7},
        {"b": 8, "a": 9},
    ]
    if path == "careful":
        rows = [{**row, "note": f"n{i}"} for i, row in enumerate(rows)]
    batch, good, errors = convert(specs, rows)
    assert good == [0, 1, 2, 4]
    assert errors == {3: "missing feature 'b'"}
    assert batch.columns["a"].tolist() == [1.0, 4.0, 5.0, 9.0]
    assert batch.columns["b"].tolist() == [2.0, 3.0, 6.0, 8.0]
    if path == "careful":
        assert batch.columns["note"].tolist() == ["n0", "n1", "n2", "n4"]


def test_field_map_and_normalised_names_choose_the_field() -> None:
    specs = [InputSpec("education_num", "integer"), InputSpec("label", "string")]
    rows: list[dict[str, Any]] = [
        {"education-num": 13, "y": "a", "label": "not this one"},
        {"Education Num": 9, "y": "b"},
    ]
    batch, good, errors = convert(specs, rows, field_map={"label": "y"})
    assert good == [0, 1] and errors == {}
    assert batch.columns["education_num"].tolist() == [13.0, 9.0]
    assert batch.columns["label"].tolist() == ["a", "b"]


@pytest.mark.parametrize("path", PATHS)
def test_an_error_names_the_record_field_that_fed_the_input(path: str) -> None:
    specs = [InputSpec("education_num", "integer"), InputSpec("label")]
    if path == "careful":
        specs.append(InputSpec("note", "string"))
    rows: list[dict[str, Any]] = [
        {"education-num": "x", "y": 1, "note": "n"},
        {"education-num": 9, "y": [1], "note": "n"},
    ]
    _, good, errors = convert(specs, rows, field_map={"label": "y"})
    assert good == []
    assert errors == {
        0: "feature 'education-num' is not a number: 'x'",
        1: "feature 'y' is not a number: <list of 1 items>",
    }


def test_an_error_names_the_input_when_rows_feed_it_from_fields_of_different_names() -> None:
    spec = InputSpec("Age", "integer")
    rows: list[dict[str, Any]] = [{"age": "x"}, {"AGE": 30}]
    _, good, errors = convert([spec], rows)
    assert good == [1]
    assert errors == {0: "feature 'Age' is not a number: 'x'"}
    # Alone, the row names its own field: a message depends on the batch.
    assert convert([spec], rows[:1])[2] == {0: "feature 'age' is not a number: 'x'"}


def test_a_mapped_field_that_is_absent_is_missing() -> None:
    _, good, errors = convert([InputSpec("label")], [{"label": 1}], field_map={"label": "y"})
    assert good == [] and errors == {0: "missing feature 'label'"}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.xfail(
    strict=True,
    reason="bug: build_batch binds every row with the first row's fields when they are all "
    "present, so a row whose own keys bind another field (the exact name beside a normalised "
    "one) is read from the wrong field in a batch, and from the right one alone",
)
def test_each_row_binds_its_own_exact_name_in_a_batch(path: str) -> None:
    specs = [InputSpec("x")]
    if path == "careful":
        specs.append(InputSpec("note", "string"))
    rows: list[dict[str, Any]] = [{"X": 1, "note": "n"}, {"X": 2, "x": 3, "note": "n"}]
    alone, _, _ = convert(specs, rows[1:])
    assert alone.columns["x"].tolist() == [3.0]
    batch, good, _ = convert(specs, rows)
    assert good == [0, 1]
    assert batch.columns["x"].tolist() == [1.0, 3.0]


# -- whole batches ----------------------------------------------------------------------------

CENSUS = InputSchema(
    (
        InputSpec("age", "integer", nullable=False),
        InputSpec("workclass", "string"),
        InputSpec("fnlwgt", "integer"),
        InputSpec("education", "string"),
        InputSpec("education_num", "integer"),
        InputSpec("marital_status", "string"),
        InputSpec("occupation", "string"),
        InputSpec("relationship", "string"),
        InputSpec("capital_gain", "double"),
        InputSpec("capital_loss", "double"),
        InputSpec("hours_per_week", "float"),
        InputSpec("native_country", "string", nullable=False),
    )
)
CENSUS_NUMBERS = [s.name for s in CENSUS.inputs if s.type != "string"]
CENSUS_STRINGS = [s.name for s in CENSUS.inputs if s.type == "string"]


def census_record(age: Any, workclass: Any, hours: Any) -> dict[str, Any]:
    """A record as the salary pipeline's producer writes it (hyphenated field names)."""
    return {
        "age": age,
        "workclass": workclass,
        "fnlwgt": 77516,
        "education": "Bachelors",
        "education-num": 13,
        "marital-status": "Never-married",
        "occupation": "Adm-clerical",
        "relationship": "Not-in-family",
        "capital-gain": 2174,
        "capital-loss": 0,
        "hours-per-week": hours,
        "native-country": "United-States",
    }


def build_census(rows: Sequence[dict[str, Any]]) -> Converted:
    batch, good, errors = build_batch(list(rows), FieldBinder(CENSUS.names, None), CENSUS)
    return batch, good, {i: str(e) for i, e in errors.items()}


def test_mixed_batch_gives_columns_of_their_types() -> None:
    rows: list[dict[str, Any]] = [
        census_record(39, "State-gov", 40),
        census_record(50, None, "13.5"),
    ]
    batch, good, errors = build_census(rows)
    assert good == [0, 1] and errors == {}
    for name in CENSUS_NUMBERS:
        assert batch.columns[name].dtype == np.float64 and batch.columns[name].shape == (2,)
    for name in CENSUS_STRINGS:
        assert batch.columns[name].dtype == object and batch.columns[name].shape == (2,)
    assert batch.columns["age"].tolist() == [39.0, 50.0]
    assert batch.columns["education_num"].tolist() == [13.0, 13.0]
    assert batch.columns["hours_per_week"].tolist() == [40.0, 13.5]
    assert batch.columns["workclass"].tolist() == ["State-gov", None]
    assert batch.values("workclass") == ["State-gov", None]
    matrix = batch.matrix(CENSUS_NUMBERS)
    assert matrix.shape == (2, len(CENSUS_NUMBERS))
    assert matrix[:, 0].tolist() == [39.0, 50.0]


def test_a_bad_row_costs_only_itself() -> None:
    rows: list[dict[str, Any]] = [
        census_record(39, "State-gov", 40),
        census_record("x", "Private", 20),  # not a number
        census_record(28, "Self-emp", 35),
        {"age": 30},  # missing the rest
        census_record(45, ["Private"], 50),  # a list for a string
        census_record(61, "Local-gov", 12),
    ]
    batch, good, errors = build_census(rows)
    assert good == [0, 2, 5]
    assert errors == {
        1: "feature 'age' is not a number: 'x'",
        3: "missing feature 'workclass'",
        4: "feature 'workclass' is not a string: <list of 1 items>",
    }
    assert batch.size == 3
    assert batch.columns["age"].tolist() == [39.0, 28.0, 61.0]
    assert batch.columns["workclass"].tolist() == ["State-gov", "Self-emp", "Local-gov"]
    assert batch.columns["hours_per_week"].tolist() == [40.0, 35.0, 12.0]
    assert all(len(column) == 3 for column in batch.columns.values())
    assert batch.matrix(["age", "hours_per_week"]).tolist() == [[39, 40], [28, 35], [61, 12]]


def test_a_bad_row_costs_only_itself_in_a_batch_of_numbers_and_tensors() -> None:
    specs = [InputSpec("a"), InputSpec("t", shape=(2,))]
    rows: list[dict[str, Any]] = [
        {"a": 1, "t": [1, 2]},
        {"a": 2, "t": [1]},
        {"a": None, "t": [5, 6]},
        {"a": "?", "t": [7, 8]},
        {"a": 4, "t": [9, 10]},
    ]
    batch, good, errors = convert(specs, rows)
    assert good == [0, 2, 4]
    assert set(errors) == {1, 3}
    assert batch.columns["a"][[0, 2]].tolist() == [1.0, 4.0] and math.isnan(batch.columns["a"][1])
    assert batch.columns["t"].tolist() == [[1, 2], [5, 6], [9, 10]]


def test_a_batch_of_numbers_is_one_matrix() -> None:
    schema = InputSchema.numeric(["a", "b"])
    batch, good, errors = build_batch(
        [{"a": 1, "b": 2}, {"b": 4, "a": 3}], FieldBinder(schema.names, None), schema
    )
    assert good == [0, 1] and errors == {}
    matrix = batch.matrix()
    assert matrix.tolist() == [[1, 2], [3, 4]]
    assert batch.matrix() is matrix
    assert batch.take([1]).matrix().tolist() == [[3, 4]]


@pytest.mark.parametrize(
    "schema",
    [InputSchema.numeric(["a"]), CENSUS, InputSchema((InputSpec("t", shape=(-1,)),))],
    ids=["numbers", "mixed", "tensor"],
)
def test_an_empty_batch_is_empty(schema: InputSchema) -> None:
    batch, good, errors = build_batch([], FieldBinder(schema.names, None), schema)
    assert batch.size == 0 and good == [] and errors == {}
    assert set(batch.columns) == set(schema.names)
    assert all(len(column) == 0 for column in batch.columns.values())


def test_a_schema_of_no_inputs_takes_every_row() -> None:
    batch, good, errors = build_batch([{"a": 1}], FieldBinder([], None), InputSchema(()))
    assert good == [0] and errors == {} and batch.size == 1


def test_typed_columns_name_each_bad_row_by_its_first_bad_input() -> None:
    schema = InputSchema((InputSpec("n", "integer"), InputSpec("s", "string", nullable=False)))
    columns, errors = typed_columns(schema, [[1, 2.5, "?"], ["a", None, None]])
    assert set(columns) == {"n", "s"}
    assert {i: str(e) for i, e in errors.items()} == {
        1: "feature 'n' is not a whole number: 2.5",
        2: "feature 'n' is not a number: '?'",
    }
    assert all(isinstance(e, RecordError) for e in errors.values())


def test_typed_batch_names_the_first_row_that_does_not_convert() -> None:
    schema = InputSchema((InputSpec("n", "integer"), InputSpec("s", "string")))
    batch = typed_batch(schema, [{"n": 1, "s": 2}, {"n": "3", "s": None}])
    assert batch.size == 2 and batch.values("s") == ["2", None]
    with pytest.raises(ValueError, match=r"^row 1: feature 'n' is not a whole number: 0\.5$"):
        typed_batch(schema, [{"n": 1, "s": "a"}, {"n": 0.5, "s": "b"}])
