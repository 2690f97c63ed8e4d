"""Each row of a batch answer as the contract's ``result`` object, in JSON, built column-wise,
and only for answers that pass the checks (a refused row is its dead letter's error): what the
engine publishes for a model, and a route for what it combines (an ensemble)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import RecordError, ScoringError
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.checks import refusal, row_problems


def publishable_results(result: BatchResult, runtime: RuntimeInfo) -> list[bytes | RecordError]:
    """Each row's ``result`` object as JSON, or, for a row the checks refuse (runtimes/
    checks.py: NaN, missing or unnormalised probabilities, non-finite values), its dead letter's
    error — naming the engine and what to do about it. Nothing refused is ever encoded into a
    prediction; only refused rows cost a step here."""
    rows = cast(list[bytes | RecordError], encode_results(result))
    for i, why in row_problems(result).items():
        rows[i] = ScoringError(refusal(runtime, why))
    return rows


def encode_results(result: BatchResult) -> list[bytes]:
    """``[orjson.dumps(row) for row in result.rows()]``, the same bytes, built column-wise:
    the batch's numbers are serialised in one call and each row is one template fill.
    Formatting floats one Python object at a time (and building a dict per row) is a
    large part of writing a prediction."""
    if result.kind == "classifier":
        assert result.labels is not None
        if result.scores is not None:  # rare (TensorFlow's sigmoid nets): rows() is enough
            return [orjson.dumps(row) for row in result.rows()]
        labels = _encoded(result.labels)
        if result.probabilities is None or result.classes is None:
            return [b'{"label":' + label + b"}" for label in labels]
        classes = list(result.classes)
        k = len(classes)
        if len(set(classes)) != k or np.shape(result.probabilities) != (len(labels), k):
            # Repeated classes (a dict merges them) or a shape rows() refuses: its way.
            return [orjson.dumps(row) for row in result.rows()]
        template = (
            b'{"label":%s,"probabilities":{'
            + b",".join(_literal(orjson.dumps(c)) + b":%s" for c in classes)
            + b"}}"
        )
        cells = _number_cells(result.probabilities)
        return [template % (label, *cells[i * k : i * k + k]) for i, label in enumerate(labels)]
    if result.kind == "regressor":
        assert result.values is not None
        if np.ndim(result.values) == 1:
            return [b'{"value":' + cell + b"}" for cell in _number_cells(result.values)]
    return [orjson.dumps(row) for row in result.rows()]


def _number_cells(numbers: npt.NDArray[Any]) -> list[bytes]:
    """Each number of an array as JSON (as orjson writes a float; NaN and infinities become
    null), in row-major order. Numbers never contain the separators split on here."""
    matrix = np.ascontiguousarray(numbers, dtype=np.float64)
    if matrix.size == 0:
        return []
    matrix = matrix.reshape(matrix.shape[0], -1)
    body = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY)
    return body[2:-2].replace(b"],[", b",").split(b",")


def _encoded(values: Sequence[Any]) -> list[bytes]:
    """Each value as JSON; a batch has few distinct labels, so each is encoded once (when they
    are of one type: 1, 1.0 and True are one dict key but three different JSON values)."""
    try:
        if len(set(map(type, values))) <= 1:
            cache = {value: orjson.dumps(value) for value in set(values)}
            return [cache[value] for value in values]
    except TypeError:  # unhashable labels
        pass
    return [orjson.dumps(value) for value in values]


def _literal(part: bytes) -> bytes:
    """A constant part of a %-template."""
    return part.replace(b"%", b"%%")
