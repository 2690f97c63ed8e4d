"""The string and tensor rules of service/inputs/conversion.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.inputs.schema import InputSpec
from tests.inputs.conversion_cases import convert

# -- strings ----------------------------------------------------------------------------------


def test_string_input_takes_text_as_is() -> None:
    batch, good, _ = convert([InputSpec("s", "string")], [{"s": "Private"}, {"s": ""}])
    assert good == [0, 1]
    column = batch.columns["s"]
    assert column.dtype == object and column.tolist() == ["Private", ""]


def test_string_input_reads_a_whole_number_as_its_code() -> None:
    rows: list[dict[str, Any]] = [{"s": 7}, {"s": 7.0}, {"s": -3}, {"s": 1e20}]
    batch, good, _ = convert([InputSpec("s", "string")], rows)
    assert good == [0, 1, 2, 3]
    assert batch.columns["s"].tolist() == ["7", "7", "-3", "100000000000000000000"]


def test_string_input_reads_a_fraction_as_its_text() -> None:
    batch, _, _ = convert([InputSpec("s", "string")], [{"s": 2.5}, {"s": -0.125}])
    assert batch.columns["s"].tolist() == ["2.5", "-0.125"]


def test_string_input_reads_a_boolean_as_true_or_false() -> None:
    batch, _, _ = convert([InputSpec("s", "string")], [{"s": True}, {"s": False}])
    assert batch.columns["s"].tolist() == ["true", "false"]


def test_string_null_is_none_when_nullable() -> None:
    batch, good, _ = convert([InputSpec("s", "string", nullable=True)], [{"s": None}, {"s": "a"}])
    assert good == [0, 1]
    assert batch.columns["s"].tolist() == [None, "a"]
    assert batch.values("s") == [None, "a"]


def test_string_null_is_refused_when_not_nullable() -> None:
    spec = InputSpec("s", "string", nullable=False)
    batch, good, errors = convert([spec], [{"s": None}, {"s": "a"}])
    assert good == [1]
    assert errors == {0: "feature 's' is null, and the model's string input takes no missing value"}
    assert batch.columns["s"].tolist() == ["a"]


def test_string_input_refuses_a_list_or_an_object() -> None:
    _, good, errors = convert([InputSpec("s", "string")], [{"s": ["a"]}, {"s": {}}, {"s": "a"}])
    assert good == [2]
    assert errors == {
        0: "feature 's' is not a string: <list of 1 items>",
        1: "feature 's' is not a string: <object of 0 keys>",
    }


def test_string_input_refuses_an_integer_too_long_to_print_not_raised() -> None:
    _, good, errors = convert([InputSpec("s", "string")], [{"s": 10**5000}, {"s": "a"}])
    assert good == [1]
    assert "feature 's'" in errors[0]


# -- tensors ----------------------------------------------------------------------------------


def test_tensor_of_the_right_shape_is_float64_of_rows_by_shape() -> None:
    rows: list[dict[str, Any]] = [
        {"t": [[1, 2, 3], [4, 5, 6]]},
        {"t": [[0.5] * 3, [True, False, 1]]},
    ]
    batch, good, errors = convert([InputSpec("t", shape=(2, 3))], rows)
    assert good == [0, 1] and errors == {}
    column = batch.columns["t"]
    assert column.dtype == np.float64 and column.shape == (2, 2, 3)
    assert column[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert column[1].tolist() == [[0.5] * 3, [1, 0, 1]]


def test_tensor_of_the_wrong_shape_is_refused_naming_both_shapes() -> None:
    rows: list[dict[str, Any]] = [{"t": [1, 2, 3]}, {"t": [[1, 2]]}, {"t": [1, 2]}]
    batch, good, errors = convert([InputSpec("t", shape=(2,))], rows)
    assert good == [2]
    assert errors == {
        0: "feature 't' has shape [3], the model takes [2]",
        1: "feature 't' has shape [1, 2], the model takes [2]",
    }
    assert batch.columns["t"].tolist() == [[1.0, 2.0]]


def test_ragged_tensor_is_refused() -> None:
    _, good, errors = convert([InputSpec("t", shape=(2, 2))], [{"t": [[1, 2], [3]]}])
    assert good == []
    assert errors == {0: "feature 't' is not a tensor of numbers of shape [2, 2]"}


def test_tensor_that_is_not_a_list_is_refused() -> None:
    _, good, errors = convert([InputSpec("t", shape=(2,))], [{"t": 5}, {"t": "1,2"}])
    assert good == []
    message = "feature 't' is not a list: the model takes a tensor of shape [2] per record"
    assert errors == {0: message, 1: message}


def test_tensor_holding_a_value_that_is_not_finite_is_refused() -> None:
    _, good, errors = convert([InputSpec("t", shape=(2,))], [{"t": [1, "inf"]}])
    assert good == []
    assert errors == {0: "feature 't' holds a value that is not a finite number"}


def test_integer_tensor_refuses_a_fraction_beside_a_bad_row() -> None:
    rows: list[dict[str, Any]] = [{"t": [2.5, 1]}, {"t": None}]
    _, good, errors = convert([InputSpec("t", "integer", shape=(2,))], rows)
    assert good == []
    assert errors[0] == "feature 't' holds a number that is not whole"


def test_integer_tensor_refuses_a_fraction() -> None:
    _, good, errors = convert([InputSpec("t", "integer", shape=(2,))], [{"t": [2.5, 1]}])
    assert good == []
    assert errors == {0: "feature 't' holds a number that is not whole"}


def test_dynamic_dimension_takes_any_size() -> None:
    spec = InputSpec("t", shape=(-1, 2))
    for size in (1, 3):
        batch, good, errors = convert([spec], [{"t": [[1, 2]] * size}] * 2)
        assert errors == {} and good == [0, 1]
        assert batch.columns["t"].shape == (2, size, 2)
    batch, good, errors = convert([InputSpec("t", shape=(-1,))], [{"t": []}])
    assert errors == {} and good == [0] and batch.columns["t"].shape == (1, 0)


def test_dynamic_dimension_rows_of_one_batch_must_agree() -> None:
    rows: list[dict[str, Any]] = [{"t": [1, 2, 3]}, {"t": [1, 2]}, {"t": [4, 5, 6]}]
    batch, good, errors = convert([InputSpec("t", shape=(-1,))], rows)
    assert good == [0, 2]
    assert errors == {
        1: "feature 't' has shape [2], and another record of the batch [3]: the model's input "
        "[*] takes one size per batch"
    }
    assert batch.columns["t"].tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.xfail(
    strict=True,
    reason="questionable: _tensors fixes a dynamic dimension from the first row whose tensor "
    "converts, even when that row is refused for another input, so a good row is refused for "
    "disagreeing with a row that is not in the batch",
)
def test_a_refused_row_does_not_fix_a_dynamic_size() -> None:
    specs = [InputSpec("t", shape=(-1,)), InputSpec("s", "string", nullable=False)]
    rows: list[dict[str, Any]] = [{"t": [1, 2], "s": None}, {"t": [1, 2, 3], "s": "a"}]
    _, good, errors = convert(specs, rows)
    assert good == [1]
    assert set(errors) == {0}


def test_null_tensor_is_nan_for_a_nullable_floating_fixed_shape() -> None:
    rows: list[dict[str, Any]] = [{"t": None}, {"t": [[1, 2]]}]
    batch, good, errors = convert([InputSpec("t", "float", shape=(1, 2), nullable=True)], rows)
    assert good == [0, 1] and errors == {}
    column = batch.columns["t"]
    assert column.shape == (2, 1, 2)
    assert np.isnan(column[0]).all() and column[1].tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    "spec",
    [
        InputSpec("t", "double", shape=(2,), nullable=False),
        InputSpec("t", "integer", shape=(2,), nullable=True),
        InputSpec("t", "double", shape=(-1,), nullable=True),
    ],
    ids=["not nullable", "integer", "dynamic"],
)
def test_null_tensor_is_refused_otherwise(spec: InputSpec) -> None:
    _, good, errors = convert([spec], [{"t": None}])
    assert good == []
    assert errors == {0: "feature 't' is null; the model takes a tensor"}
