"""The number rules of service/inputs/conversion.py, on both paths: a schema of scalar numbers
only (the whole batch in one ``np.fromiter``) and one with a string input beside (column by
column)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.inputs.schema import InputSpec
from tests.inputs.conversion_cases import PATHS, convert, convert_numbers

# -- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_numeric_text_is_accepted(path: str) -> None:
    batch, good, errors = convert_numbers(InputSpec("age"), ["42", " 3.5 ", "-1e3"], path)
    assert good == [0, 1, 2] and errors == {}
    assert batch.columns["age"].dtype == np.float64
    assert batch.columns["age"].tolist() == [42.0, 3.5, -1000.0]


@pytest.mark.parametrize("path", PATHS)
def test_text_for_a_number_is_refused_naming_field_and_value(path: str) -> None:
    batch, good, errors = convert_numbers(InputSpec("age", "integer"), [30, "x"], path)
    assert good == [0]
    assert errors == {1: "feature 'age' is not a number: 'x'"}
    assert batch.columns["age"].tolist() == [30.0]


@pytest.mark.parametrize("path", PATHS)
def test_non_finite_numeric_text_is_refused(path: str) -> None:
    _, good, errors = convert_numbers(InputSpec("x"), ["inf", "nan", "1e400", 1], path)
    assert good == [3]
    assert errors == {i: "feature 'x' is not finite" for i in range(3)}


@pytest.mark.parametrize("path", PATHS)
def test_a_list_or_an_object_for_a_number_is_refused(path: str) -> None:
    _, good, errors = convert_numbers(InputSpec("x"), [[1, 2], {"a": 1}, 1], path)
    assert good == [2]
    assert errors == {
        0: "feature 'x' is not a number: <list of 2 items>",
        1: "feature 'x' is not a number: <object of 1 keys>",
    }


@pytest.mark.parametrize("path", PATHS)
def test_null_is_nan_for_a_nullable_number(path: str) -> None:
    batch, good, errors = convert_numbers(InputSpec("x", nullable=True), [1.5, None], path)
    assert good == [0, 1] and errors == {}
    assert batch.columns["x"][0] == 1.5 and math.isnan(batch.columns["x"][1])
    assert batch.values("x") == [1.5, None]


@pytest.mark.parametrize("path", PATHS)
def test_null_is_refused_for_a_number_that_is_not_nullable(path: str) -> None:
    spec = InputSpec("age", "integer", nullable=False)
    batch, good, errors = convert_numbers(spec, [None, 7], path)
    assert good == [1]
    assert errors == {
        0: "feature 'age' is null, and the model's integer input takes no missing value"
    }
    assert batch.columns["age"].tolist() == [7.0]


@pytest.mark.parametrize("path", PATHS)
def test_integer_input_refuses_a_fraction(path: str) -> None:
    _, good, errors = convert_numbers(InputSpec("n", "integer"), [2.5], path)
    assert good == []
    assert errors == {0: "feature 'n' is not a whole number: 2.5"}


@pytest.mark.parametrize("path", PATHS)
def test_integer_input_accepts_a_whole_float(path: str) -> None:
    batch, good, errors = convert_numbers(InputSpec("n", "integer"), [3.0, 4, "5"], path)
    assert good == [0, 1, 2] and errors == {}
    assert batch.columns["n"].tolist() == [3.0, 4.0, 5.0]


@pytest.mark.parametrize("path", PATHS)
def test_integer_input_accepts_a_whole_number_below_2_53(path: str) -> None:
    values = [2**53 - 1, -(2**53) + 1]
    batch, good, errors = convert_numbers(InputSpec("n", "integer"), values, path)
    assert good == [0, 1] and errors == {}
    assert batch.columns["n"].tolist() == [float(v) for v in values]


@pytest.mark.parametrize("path", PATHS)
def test_integer_input_refuses_a_whole_number_from_2_53(path: str) -> None:
    _, good, errors = convert_numbers(InputSpec("n", "integer"), [2**53 + 2, -(2**64)], path)
    assert good == []
    beyond = "feature 'n' is beyond ±(2^53 - 1), what an integer input takes"
    assert errors == {0: f"{beyond}: 9007199254740994", 1: f"{beyond}: -18446744073709551616"}


@pytest.mark.parametrize("path", PATHS)
def test_integer_input_refuses_2_53_plus_one(path: str) -> None:
    values = [2**53 + 1, "9007199254740993", -(2**53) - 1]
    _, good, errors = convert_numbers(InputSpec("n", "integer"), values, path)
    assert good == []
    assert all("beyond ±(2^53 - 1)" in message for message in errors.values())


@pytest.mark.parametrize("path", PATHS)
def test_boolean_input_accepts_true_false_one_zero_and_their_text(path: str) -> None:
    values = [True, False, 1, 0, "true", "false", "TRUE", 1.0]
    batch, good, errors = convert_numbers(InputSpec("b", "boolean"), values, path)
    assert errors == {}
    assert good == list(range(len(values)))
    assert batch.columns["b"].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("path", PATHS)
def test_boolean_input_refuses_two(path: str) -> None:
    _, good, errors = convert_numbers(InputSpec("b", "boolean"), [2], path)
    assert good == []
    assert errors == {0: "feature 'b' is not a boolean: 2"}


def test_an_integer_beyond_64_bits_is_a_float() -> None:
    batch, good, _ = convert([InputSpec("x")], [{"x": 2**64}, {"x": -(2**70)}])
    assert good == [0, 1]
    assert batch.columns["x"].tolist() == [float(2**64), float(-(2**70))]


def test_an_integer_beyond_the_float_range_is_refused_not_raised() -> None:
    _, good, errors = convert([InputSpec("x")], [{"x": 10**400}, {"x": 1}])
    assert good == [1]
    assert "feature 'x'" in errors[0]
