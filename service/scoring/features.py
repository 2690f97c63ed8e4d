"""From decoded records to a model's input: which record field feeds each model input (the
binding: fieldMap, then the exact name, then the normalised name), and one float matrix per
batch. Pure, unit-tested alone."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from service.errors import InvalidRecordError, RecordError
from service.runtimes.base import FloatMatrix
from service.untrusted import preview

_SEPARATORS = re.compile(r"[\s_\-]+")
MAX_CACHED_LAYOUT_CHARS = 16 * 1024


def normalise_name(name: str) -> str:
    """`Fixed Acidity`, `fixed-acidity` and `fixed_acidity` are one field."""
    return _SEPARATORS.sub("", name).casefold()


class FieldBinder:
    """Finds, for each model input, the record field that feeds it: the descriptor's
    ``fieldMap`` first, then the same name, then the same normalised name. Resolution depends
    only on the record's set of keys, so it is cached per key layout; records of one producer
    share a layout and cost one dict look-up."""

    def __init__(self, input_names: Sequence[str], field_map: Mapping[str, str] | None) -> None:
        self.input_names = list(input_names)
        self._field_map = dict(field_map or {})
        self._cache: dict[tuple[str, ...], list[str] | str] = {}

    def resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        """The record fields in model order, or the name of the first input it lacks."""
        found = self._cache.get(keys)
        if found is None:
            found = self._resolve(keys)
            # Bounded in layouts and in their size: a producer's layout is a few hundred
            # characters of names; records with huge or ever-new names are resolved each time.
            if len(self._cache) < 1024 and sum(map(len, keys)) <= MAX_CACHED_LAYOUT_CHARS:
                self._cache[keys] = found
        return found

    def _resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        present = set(keys)
        by_norm: dict[str, str] = {}
        for key in keys:
            by_norm.setdefault(normalise_name(key), key)
        columns = []
        for name in self.input_names:
            mapped = self._field_map.get(name)
            if mapped is not None:
                if mapped not in present:
                    return name
                columns.append(mapped)
            elif name in present:
                columns.append(name)
            elif (match := by_norm.get(normalise_name(name))) is not None:
                columns.append(match)
            else:
                return name
        return columns


def build_features(
    rows: Sequence[dict[str, Any]], binder: FieldBinder
) -> tuple[FloatMatrix, list[int], dict[int, RecordError]]:
    """One float matrix for a batch. Returns the matrix (of the good rows), the indices of the
    good rows in ``rows``, and an error for each bad row.

    The fast path builds the whole matrix in one go, with the columns found for the first row;
    only when that fails (a row with another layout, a missing or non-numeric value) does it
    fall back to checking row by row."""
    if not rows:
        return np.empty((0, len(binder.input_names))), [], {}
    columns = binder.resolve(tuple(rows[0]))
    if isinstance(columns, list):
        n, k = len(rows), len(columns)
        # itemgetter takes a row's values in one C call (given one column it returns the bare
        # value, so that case is wrapped); fromiter fills the matrix without a list of lists.
        pick = itemgetter(*columns) if k > 1 else (lambda row: tuple(row[c] for c in columns))
        try:
            values = chain.from_iterable(map(pick, rows))
            matrix = np.fromiter(values, dtype=np.float64, count=n * k).reshape(n, k)
        except (KeyError, TypeError, ValueError):
            pass
        else:
            # None becomes NaN in the conversion (JSON itself has no NaN) and numeric text
            # may say "inf": either sends the batch down the careful path, which names them.
            if np.isfinite(matrix).all():
                return matrix, list(range(n)), {}
    return build_features_row_by_row(rows, binder)


def build_features_row_by_row(
    rows: Sequence[dict[str, Any]], binder: FieldBinder
) -> tuple[FloatMatrix, list[int], dict[int, RecordError]]:
    good: list[list[float]] = []
    good_idx: list[int] = []
    errors: dict[int, RecordError] = {}
    for i, row in enumerate(rows):
        columns = binder.resolve(tuple(row))
        if isinstance(columns, str):
            errors[i] = InvalidRecordError(f"missing feature {columns!r}")
            continue
        try:
            good.append([_number(row[c], c) for c in columns])
        except InvalidRecordError as exc:
            errors[i] = exc
            continue
        good_idx.append(i)
    width = len(binder.input_names)
    matrix = np.array(good, dtype=np.float64) if good else np.empty((0, width))
    return matrix, good_idx, errors


def _number(value: Any, field: str) -> float:
    """What numpy's conversion in the fast path accepts: numbers, booleans, numeric text."""
    if value is None:
        raise InvalidRecordError(f"feature {field!r} is null")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRecordError(f"feature {field!r} is not a number: {preview(value)}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidRecordError(f"feature {field!r} is not finite")
    return number
