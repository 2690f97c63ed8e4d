"""Tensors a client sent, bound to a model's tensor layout (inputs/tensor_layout.py) and typed
to its schema: the same typed batch records make (inputs/schema.py), so every transport meets
the one core call. The checks are the records' (conversion.py, tensors.py), column by column:
whole numbers for an integer input, 0 and 1 for a boolean one, finite numbers, the per-row
shape; a tensor that fails one is refused whole, naming the tensor and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import InvalidRecordError
from service.inputs.conversion import fits
from service.inputs.schema import FLOATING_TYPES, InputSchema, InputSpec, TypedBatch
from service.inputs.tensor_layout import TensorInput
from service.inputs.tensors import shape_fits

Column = npt.NDArray[Any]


def bind_tensors(
    schema: InputSchema, layout: Sequence[TensorInput], tensors: Mapping[str, Column], rows: int
) -> TypedBatch:
    """The batch of ``rows`` rows the tensors make, one tensor per entry of ``layout`` (the
    caller has matched the names); raises InvalidRecordError naming the tensor at fault."""
    specs = {spec.name: spec for spec in schema.inputs}
    if len(layout) == 1 and layout[0].side_by_side and list(layout[0].columns) == schema.names:
        # The usual [N,k] numeric model: the matrix is the batch, with no copy per column.
        only = layout[0]
        matrix = _side_by_side(only, tensors[only.name], rows, specs)
        if matrix.dtype == np.float64:
            return TypedBatch.of_matrix(schema, matrix)
    columns: dict[str, Column] = {}
    for entry in layout:
        array = tensors[entry.name]
        if entry.side_by_side:
            matrix = _side_by_side(entry, array, rows, specs)
            columns.update((name, matrix[:, j]) for j, name in enumerate(entry.columns))
        else:
            columns[entry.name] = _one_input(specs[entry.columns[0]], entry.name, array, rows)
    return TypedBatch(schema, columns, rows)


def _side_by_side(
    entry: TensorInput, array: Column, rows: int, specs: Mapping[str, InputSpec]
) -> Column:
    width = len(entry.columns)
    if array.shape != (rows, width):
        raise InvalidRecordError(
            f"input {entry.name!r} has shape {list(array.shape)}; the model takes [{rows}, {width}]"
        )
    if entry.type == "string":
        return np.column_stack(
            [_strings(specs[c], entry.name, array[:, j]) for j, c in enumerate(entry.columns)]
        )
    matrix = _numbers(entry.name, array)
    first = specs[entry.columns[0]]
    if all(
        (specs[name].type, specs[name].nullable) == (first.type, first.nullable)
        for name in entry.columns
    ):
        _check_numbers(first, entry.name, matrix)  # one type for all: checked in one pass
    else:
        for j, name in enumerate(entry.columns):
            _check_numbers(specs[name], entry.name, matrix[:, j])
    return matrix


def _one_input(spec: InputSpec, name: str, array: Column, rows: int) -> Column:
    if not spec.shape:
        if array.shape not in ((rows,), (rows, 1)):
            raise InvalidRecordError(
                f"input {name!r} has shape {list(array.shape)}; the model takes [{rows}] "
                f"or [{rows}, 1]"
            )
        column = array.reshape(rows)
        if spec.type == "string":
            return _strings(spec, name, column)
        numbers = _numbers(name, column)
        _check_numbers(spec, name, numbers)
        return numbers
    if spec.type == "string":
        raise InvalidRecordError(f"input {name!r}: the model takes no tensor of strings")
    if array.ndim != 1 + len(spec.shape) or array.shape[0] != rows:
        raise InvalidRecordError(
            f"input {name!r} has shape {list(array.shape)}; the model takes "
            f"[{rows}, {', '.join('-1' if d < 0 else str(d) for d in spec.shape)}]"
        )
    if not shape_fits(spec.shape, array.shape[1:]):
        raise InvalidRecordError(
            f"input {name!r} has rows of shape {list(array.shape[1:])}; the model takes "
            f"{spec.describe_shape()}"
        )
    numbers = _numbers(name, array)
    _check_numbers(spec, name, numbers)
    return numbers


def _numbers(name: str, array: Column) -> npt.NDArray[np.float64]:
    if array.dtype == object:
        raise InvalidRecordError(f"input {name!r} holds text (BYTES); the model takes numbers")
    return array.astype(np.float64, copy=False)


def _check_numbers(spec: InputSpec, name: str, numbers: npt.NDArray[np.float64]) -> None:
    finite = np.isfinite(numbers)
    if not finite.all():
        # NaN is a missing value where the model takes one; infinity never is.
        missing_ok = spec.nullable and spec.type in FLOATING_TYPES
        if not missing_ok or np.isinf(numbers).any():
            raise InvalidRecordError(f"input {name!r} holds a value that is not a finite number")
        numbers = numbers[finite]
    if not fits(spec, numbers):
        why = {
            "integer": "whole numbers below 2^53",
            "boolean": "0 and 1",
            "float": "numbers a float32 holds",
        }.get(spec.type, "numbers")
        raise InvalidRecordError(f"input {name!r}: the model's {spec.type} input takes {why}")


def _strings(spec: InputSpec, name: str, column: Column) -> Column:
    if column.dtype != object:
        raise InvalidRecordError(f"input {name!r} holds numbers; the model takes text (BYTES)")
    out = np.empty(len(column), dtype=object)
    for i, value in enumerate(column):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRecordError(f"input {name!r} holds bytes that are not UTF-8") from None
        out[i] = value
    return out
