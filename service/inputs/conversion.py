"""From records to a typed batch: each row's fields bound to the model's inputs, each input's
values converted column by column to its type (runtimes/… then feed the columns in their own
form). The work is per column, in C where it can be: a column of numbers is one
``np.fromiter``, a column of strings one type check; only a column that holds something else
(null, text where a number belongs, a list of another shape) is gone through value by value,
to name each bad row's problem.

What each input type takes (README, "What a record may hold"):
- numbers (double, float, integer, boolean): numbers, booleans (1 and 0) and numeric text;
  ``null`` is a missing value (NaN) where the model takes one; an integer input takes whole
  numbers, a boolean one true, false, 1 or 0;
- strings: text; a number is read as its text (category codes: 7 and 7.0 are "7"), a boolean
  as "true"/"false"; ``null`` is a missing value where the model takes one;
- tensors: a (nested) list of numbers of the input's per-row shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import InvalidRecordError, RecordError
from service.inputs.binding import FieldBinder
from service.inputs.schema import InputSchema, InputSpec, TypedBatch
from service.inputs.tensors import tensors
from service.untrusted import preview

Column = npt.NDArray[Any]


def build_batch(
    rows: Sequence[dict[str, Any]], binder: FieldBinder, schema: InputSchema
) -> tuple[TypedBatch, list[int], dict[int, RecordError]]:
    """The typed batch of the rows that bind and convert, the indices of those rows in
    ``rows``, and an error for each other row."""
    n = len(rows)
    if schema.all_numeric_scalars:
        matrix = _number_matrix(rows, binder)
        if matrix is not None and all(
            fits(spec, matrix[:, j]) for j, spec in enumerate(schema.inputs)
        ):
            return TypedBatch.of_matrix(schema, matrix), list(range(n)), {}
    values, bound, errors, fields = _bound_values(rows, binder)
    columns, problems = typed_columns(schema, values, fields)
    for k, problem in problems.items():
        errors[bound[k]] = problem
    if not problems:
        return TypedBatch(schema, columns, len(bound)), bound, errors
    keep = [k for k in range(len(bound)) if k not in problems]
    batch = TypedBatch(schema, columns, len(bound)).take(keep)
    return batch, [bound[k] for k in keep], errors


def _number_matrix(rows: Sequence[dict[str, Any]], binder: FieldBinder) -> npt.NDArray[Any] | None:
    """The whole batch in one go, with the columns found for the first row; None when that
    fails (a row with another layout, a missing or non-numeric value), for the careful path
    to name the rows at fault."""
    if not rows:
        return np.empty((0, len(binder.input_names)))
    columns = binder.resolve(tuple(rows[0]))
    if isinstance(columns, str):
        return None
    n, k = len(rows), len(columns)
    # itemgetter takes a row's values in one C call (given one column it returns the bare
    # value, so that case is wrapped); fromiter fills the matrix without a list of lists.
    pick = itemgetter(*columns) if k > 1 else (lambda row: tuple(row[c] for c in columns))
    try:
        values = chain.from_iterable(map(pick, rows))
        matrix = np.fromiter(values, dtype=np.float64, count=n * k).reshape(n, k)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    # None becomes NaN in the conversion and numeric text may say "inf": either sends the
    # batch down the careful path, which tells a missing value from a bad one.
    return matrix if np.isfinite(matrix).all() else None


def _bound_values(
    rows: Sequence[dict[str, Any]], binder: FieldBinder
) -> tuple[list[list[Any]], list[int], dict[int, RecordError], list[str]]:
    """Per input, the values of the rows that bind (and their indices); an error for a row
    that lacks an input; and per input the record field that feeds it, as errors name it (the
    model's input name where rows of several layouts name it differently). Rows of the first
    row's layout are taken a column at a time."""
    width = len(binder.input_names)
    if not rows:
        return [[] for _ in range(width)], [], {}, list(binder.input_names)
    first = binder.resolve(tuple(rows[0]))
    if isinstance(first, list):
        try:
            values = [list(map(itemgetter(c), rows)) for c in first]
        except KeyError:
            pass  # rows of other layouts: each is bound on its own
        else:
            return values, list(range(len(rows))), {}, first
    values = [[] for _ in range(width)]
    bound: list[int] = []
    errors: dict[int, RecordError] = {}
    names: list[set[str]] = [set() for _ in range(width)]
    for i, row in enumerate(rows):
        fields = binder.resolve(tuple(row))
        if isinstance(fields, str):
            errors[i] = InvalidRecordError(f"missing feature {fields!r}")
            continue
        for column, seen, name in zip(values, names, fields, strict=True):
            column.append(row[name])
            seen.add(name)
        bound.append(i)
    shown = [
        next(iter(seen)) if len(seen) == 1 else model_name
        for seen, model_name in zip(names, binder.input_names, strict=True)
    ]
    return values, bound, errors, shown


def typed_batch(schema: InputSchema, rows: Sequence[dict[str, Any]]) -> TypedBatch:
    """A batch from rows keyed by input name, converted as records are; ValueError names the
    first row that does not convert (for warm-ups, tools and tests)."""
    columns, errors = typed_columns(schema, [[row[n] for row in rows] for n in schema.names])
    if errors:
        first = min(errors)
        raise ValueError(f"row {first}: {errors[first]}")
    return TypedBatch(schema, columns, len(rows))


def typed_columns(
    schema: InputSchema, values: Sequence[Sequence[Any]], fields: Sequence[str] | None = None
) -> tuple[dict[str, Column], dict[int, RecordError]]:
    """Each input's values (one list per input, in schema order, of equal length) as its
    column, and an error for each row with a value its input cannot take (the first such
    input of the row), naming the record field that fed it (``fields``, else the input's
    name). A bad row's cells hold a filler."""
    columns: dict[str, Column] = {}
    errors: dict[int, RecordError] = {}
    names = fields if fields is not None else schema.names
    for spec, column_values, field in zip(schema.inputs, values, names, strict=True):
        converter = _converter(spec)
        # Converted as the record field that feeds it: its errors name that field.
        column, problems = converter(replace(spec, name=field), column_values)
        columns[spec.name] = column
        for i, problem in problems.items():
            errors.setdefault(i, problem)
    return columns, errors


Converter = Callable[[InputSpec, Sequence[Any]], tuple[Column, dict[int, RecordError]]]


def _converter(spec: InputSpec) -> Converter:
    if spec.shape:
        return tensors
    return _strings if spec.type == "string" else _numbers


# -- numbers ----------------------------------------------------------------------------------


def _numbers(spec: InputSpec, values: Sequence[Any]) -> tuple[Column, dict[int, RecordError]]:
    n = len(values)
    try:
        column = np.fromiter(values, dtype=np.float64, count=n)
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        if np.isfinite(column).all() and fits(spec, column):
            return column, {}
    column = np.full(n, np.nan)
    return column, _value_by_value(values, partial(_number, spec), column)


def _value_by_value(
    values: Sequence[Any], convert: Callable[[Any], Any], column: Column
) -> dict[int, RecordError]:
    """The careful path of a column: each value converted into ``column`` on its own, and an
    error for each that does not convert (its cell keeps the filler)."""
    errors: dict[int, RecordError] = {}
    for i, value in enumerate(values):
        try:
            column[i] = convert(value)
        except InvalidRecordError as exc:
            errors[i] = exc
    return errors


# Integers are carried as float64, which holds every whole number below 2^53 exactly; from
# 2^53 on, a number may already have been rounded to another (2^53 + 1 reads as 2^53), so
# the bound is strict.
MAX_EXACT_INTEGER = 2.0**53


# The largest float32: a larger number would reach a float input as infinity.
MAX_FLOAT32 = float(np.finfo(np.float32).max)


def fits(spec: InputSpec, column: Column) -> bool:
    """Whole numbers (held exactly) for an integer input, 0 and 1 for a boolean one, numbers
    a float32 holds for a float one."""
    if spec.type == "integer":
        exact = (column == np.round(column)) & (np.abs(column) < MAX_EXACT_INTEGER)
        return bool(exact.all())
    if spec.type == "float":
        return bool((np.abs(column) <= MAX_FLOAT32).all())
    if spec.type == "boolean":
        return bool(((column == 0.0) | (column == 1.0)).all())
    return True


_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


def _number(spec: InputSpec, value: Any) -> float:
    name = spec.name
    if value is None:
        if spec.nullable:
            return float("nan")
        raise InvalidRecordError(
            f"feature {name!r} is null, and the model's {spec.type} input takes no missing value"
        )
    if spec.type == "boolean" and isinstance(value, str) and value.lower() in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[value.lower()]
    if isinstance(value, list | dict):
        raise InvalidRecordError(f"feature {name!r} is not a number: {preview(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidRecordError(f"feature {name!r} is not a number: {preview(value)}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidRecordError(f"feature {name!r} is not finite")
    if spec.type == "integer" and not number.is_integer():
        raise InvalidRecordError(f"feature {name!r} is not a whole number: {preview(value)}")
    if spec.type == "float" and abs(number) > MAX_FLOAT32:
        raise InvalidRecordError(
            f"feature {name!r} is beyond what a float (float32) input holds: {preview(value)}"
        )
    if spec.type == "integer" and abs(number) >= MAX_EXACT_INTEGER:
        raise InvalidRecordError(
            f"feature {name!r} is beyond ±(2^53 - 1), what an integer input takes: {preview(value)}"
        )
    if spec.type == "boolean" and number not in (0.0, 1.0):
        raise InvalidRecordError(f"feature {name!r} is not a boolean: {preview(value)}")
    return number


# -- strings ----------------------------------------------------------------------------------


def _strings(spec: InputSpec, values: Sequence[Any]) -> tuple[Column, dict[int, RecordError]]:
    column = np.empty(len(values), dtype=object)
    if set(map(type, values)) <= {str}:
        column[:] = values
        return column, {}
    return column, _value_by_value(values, partial(_string, spec), column)


def _string(spec: InputSpec, value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python writes out (4,300)
            raise InvalidRecordError(f"feature {spec.name!r} is a number too long") from None
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # a category code written as 7.0 is "7"
        return repr(value)
    if value is None:
        if spec.nullable:
            return None
        raise InvalidRecordError(
            f"feature {spec.name!r} is null, and the model's string input takes no missing value"
        )
    raise InvalidRecordError(f"feature {spec.name!r} is not a string: {preview(value)}")
