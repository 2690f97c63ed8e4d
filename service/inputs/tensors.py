"""Tensor inputs: a record's (nested) list of numbers for an input of a per-row shape (an
embedding, an image). The whole column is one ``np.array`` when every row fits; otherwise each
row is read on its own to name its problem (its shape against the model's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import InvalidRecordError, RecordError
from service.inputs.schema import FLOATING_TYPES, InputSpec

Column = npt.NDArray[Any]


def tensors(spec: InputSpec, values: Sequence[Any]) -> tuple[Column, dict[int, RecordError]]:
    """The column of a tensor input: float64 of shape (rows, *per-row shape), and an error
    for each row whose value is not a list of numbers of that shape."""
    n = len(values)
    try:
        column = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        fits = column.ndim == 1 + len(spec.shape) and shape_fits(spec.shape, column.shape[1:])
        if fits and np.isfinite(column).all() and _of_type(spec, column):
            return column, {}
    converted: list[npt.NDArray[np.float64] | None] = []
    errors: dict[int, RecordError] = {}
    agreed: tuple[int, ...] | None = None  # the dynamic dimensions, as the first good row has them
    for i, value in enumerate(values):
        try:
            row = _tensor(spec, value)
            if agreed is None:
                agreed = row.shape
            elif row.shape != agreed:
                raise InvalidRecordError(
                    f"feature {spec.name!r} has shape {list(row.shape)}, and another record of "
                    f"the batch {list(agreed)}: the model's input {spec.describe_shape()} takes "
                    "one size per batch"
                )
            converted.append(row)
        except InvalidRecordError as exc:
            errors[i] = exc
            converted.append(None)
    fixed = agreed or tuple(max(d, 1) for d in spec.shape)
    column = np.zeros((n, *fixed))
    for i, good in enumerate(converted):
        if good is not None:
            column[i] = good
    return column, errors


def _tensor(spec: InputSpec, value: Any) -> npt.NDArray[np.float64]:
    name = spec.name
    if value is None:
        if spec.nullable and spec.type in FLOATING_TYPES and min(spec.shape) > 0:
            return np.full(spec.shape, np.nan)
        raise InvalidRecordError(f"feature {name!r} is null; the model takes a tensor")
    if not isinstance(value, list):
        raise InvalidRecordError(
            f"feature {name!r} is not a list: the model takes a tensor of shape "
            f"{spec.describe_shape()} per record"
        )
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InvalidRecordError(
            f"feature {name!r} is not a tensor of numbers of shape {spec.describe_shape()}"
        ) from None
    if array.ndim != len(spec.shape) or not shape_fits(spec.shape, array.shape):
        raise InvalidRecordError(
            f"feature {name!r} has shape {list(array.shape)}, the model takes "
            f"{spec.describe_shape()}"
        )
    if not np.isfinite(array).all():
        raise InvalidRecordError(f"feature {name!r} holds a value that is not a finite number")
    if not _of_type(spec, array):
        why = "that is not whole" if spec.type == "integer" else "other than 0 and 1"
        raise InvalidRecordError(f"feature {name!r} holds a number {why}")
    return array


def _of_type(spec: InputSpec, array: npt.NDArray[np.float64]) -> bool:
    """Whole numbers (below 2^53) in an integer tensor, 0 and 1 in a boolean one."""
    if spec.type == "integer":
        return bool(((array == np.round(array)) & (np.abs(array) < 2.0**53)).all())
    if spec.type == "boolean":
        return bool(((array == 0.0) | (array == 1.0)).all())
    return True


def shape_fits(expected: tuple[int, ...], given: tuple[int, ...]) -> bool:
    return len(expected) == len(given) and all(
        e < 0 or e == g for e, g in zip(expected, given, strict=True)
    )
