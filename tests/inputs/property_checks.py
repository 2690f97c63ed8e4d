"""The known bugs a conversion case may reach, and the checks the properties make of a
converted batch."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import assume, example

from service.inputs.schema import FLOATING_TYPES, InputSchema, InputSpec
from tests.inputs.property_cases import KNOWN_BUGS, MAX_EXACT_INTEGER, NAMED, Case

# -- the known bugs ---------------------------------------------------------------------------


def _loose_float(value: Any) -> float | None:
    """``float(value)`` for what the conversion reads as a number; inf for an int beyond the
    float range; None for anything else."""
    if not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf
    except ValueError:
        return None


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _holds_a_fraction(tensor: Any) -> bool:
    for leaf in _leaves(tensor):
        number = _loose_float(leaf)
        if number is not None and math.isfinite(number) and not number.is_integer():
            return True
    return False


def known_bugs(case: Case) -> set[str]:
    """The known bugs the case may reach (generously: a case named here may still convert
    right)."""
    bugs: set[str] = set()
    binder = case.binder()
    layouts = [binder.resolve(tuple(row)) for row in case.rows]
    if case.rows and isinstance(first := layouts[0], list):
        for row, fields in zip(case.rows, layouts, strict=True):
            if fields != first and all(f in row for f in first):
                bugs.add("first-layout-binding")
    numbers_only = case.schema.all_numeric_scalars
    for row, fields in zip(case.rows, layouts, strict=True):
        if isinstance(fields, str):
            continue
        for spec, field in zip(case.schema.inputs, fields, strict=True):
            value = row[field]
            if spec.shape:
                if spec.type == "integer" and _holds_a_fraction(value):
                    bugs.add("integer-tensor-fast-path")
            elif spec.type == "string":
                if isinstance(value, int) and value.bit_length() > 14_000:
                    bugs.add("long-int-text")
            elif numbers_only:
                number = _loose_float(value)
                if isinstance(value, int) and number == math.inf:
                    bugs.add("float-overflow")
                if number is None or not math.isfinite(number):
                    continue
                if spec.type == "integer" and not (
                    number.is_integer() and abs(number) < MAX_EXACT_INTEGER
                ):
                    bugs.add("fast-path-fits")
                if spec.type == "boolean" and number not in (0.0, 1.0):
                    bugs.add("fast-path-fits")
    return bugs


def set_aside_known_bugs(case: Case) -> None:
    assume(not known_bugs(case) & KNOWN_BUGS)


def _one_input(spec: InputSpec, *rows: dict[str, Any]) -> Case:
    return Case(InputSchema((spec,)), {}, list(rows))


# A case of each bug found (its repro: test_binding_and_batches.py): set aside while it is in
# KNOWN_BUGS, then tried on every run of the properties below. "fast-path-fits" (the matrix
# of scalar numbers took a fraction for an integer input, a 2 for a boolean one) was fixed
# while these tests were written; its cases stay as regression cases.
KNOWN_BUG_CASES: dict[str, list[Case]] = {
    "fast-path-fits": [
        _one_input(InputSpec("a", "integer"), {"a": 2.5}),
        _one_input(InputSpec("a", "integer"), {"a": 2.5}, {"a": "x"}),
        _one_input(InputSpec("a", "boolean"), {"a": 2}, {"a": None}),
        _one_input(InputSpec("a", "integer"), {"a": 2**64}, {}),
    ],
    "float-overflow": [_one_input(InputSpec("a"), {"a": 2**1100})],
    "long-int-text": [_one_input(InputSpec("s", "string"), {"s": 2**17_000})],
    "integer-tensor-fast-path": [
        _one_input(InputSpec("t", "integer", (2,)), {"t": [2.5, 1]}),
        _one_input(InputSpec("t", "integer", (2,)), {"t": [2.5, 1]}, {"t": None}),
    ],
    "first-layout-binding": [_one_input(InputSpec("x"), {"X": 1}, {"X": 2, "x": 3})],
}


def with_known_bug_cases(test: Callable[[Case], None]) -> Callable[[Case], None]:
    for bug_cases in KNOWN_BUG_CASES.values():
        for case in bug_cases:
            test = example(case)(test)
    return test


def test_each_known_bug_case_is_set_aside_by_its_name() -> None:
    for bug, bug_cases in KNOWN_BUG_CASES.items():
        assert all(known_bugs(case) == {bug} for case in bug_cases), bug


# -- checks -----------------------------------------------------------------------------------


def check_column(spec: InputSpec, column: npt.NDArray[Any], size: int) -> None:
    """The column holds ``size`` rows of the type the rules give the input."""
    assert len(column) == size
    if spec.shape:
        assert column.dtype == np.float64
        assert column.ndim == 1 + len(spec.shape)
        for expected, given_size in zip(spec.shape, column.shape[1:], strict=True):
            assert expected < 0 or given_size == expected
        per_row = column.reshape(size, math.prod(column.shape[1:]))
        takes_null = spec.nullable and spec.type in FLOATING_TYPES and min(spec.shape) > 0
        for values in per_row:
            full_of_nan = takes_null and bool(np.isnan(values).all())
            assert full_of_nan or np.isfinite(values).all()
    elif spec.type == "string":
        assert column.dtype == object and column.ndim == 1
        for value in column:
            assert (value is None and spec.nullable) or type(value) is str
    else:
        assert column.dtype == np.float64 and column.ndim == 1
        present = column[~np.isnan(column)]
        assert spec.nullable or len(present) == size
        assert np.isfinite(present).all()
        if spec.type == "integer":
            assert (present == np.round(present)).all()
            assert (np.abs(present) <= MAX_EXACT_INTEGER).all()
        if spec.type == "boolean":
            assert np.isin(present, [0.0, 1.0]).all()
    if spec.type == "integer" and spec.shape:
        present = column[~np.isnan(column)]
        assert (present == np.round(present)).all()


def named_field(message: str) -> tuple[str, str]:
    """The field an error names, and the message with that name left out."""
    found = NAMED.search(message)
    assert found is not None, message
    return found.group(2), message[: found.start()] + "feature <field>" + message[found.end() :]


def same_value(a: Any, b: Any) -> bool:
    """Two cells (scalars, None, or arrays of a tensor row) equal, NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and bool(a == b)


def same_column(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return all(same_value(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True))
    return bool(np.array_equal(a, b, equal_nan=True))
