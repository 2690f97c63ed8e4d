"""The one interface every model format implements, and the batch result it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import orjson

FloatMatrix = npt.NDArray[np.float64]
ResultKind = Literal["classifier", "regressor", "outputs"]


@dataclass(frozen=True)
class BatchResult:
    """Scores of one batch, column-wise, so that runtimes stay vectorised; ``rows()`` makes the
    per-record ``result`` objects of the contract."""

    kind: ResultKind
    size: int
    labels: Sequence[str] | None = None
    classes: Sequence[str] | None = None
    probabilities: npt.NDArray[Any] | None = None
    values: npt.NDArray[Any] | None = None
    outputs: Sequence[dict[str, Any]] | None = None
    # Rows the engine itself could not score (index → why); they become dead letters.
    row_errors: Mapping[int, str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        if self.kind == "classifier":
            assert self.labels is not None
            if self.probabilities is None or self.classes is None:
                return [{"label": label} for label in self.labels]
            classes = list(self.classes)
            return [
                {"label": label, "probabilities": dict(zip(classes, row, strict=True))}
                for label, row in zip(
                    self.labels, _as_float64(self.probabilities).tolist(), strict=True
                )
            ]
        if self.kind == "regressor":
            assert self.values is not None
            return [{"value": value} for value in _as_float64(self.values).tolist()]
        assert self.outputs is not None
        return [{"outputs": out} for out in self.outputs]

    def encoded_rows(self) -> list[bytes]:
        """``[orjson.dumps(row) for row in self.rows()]``, the same bytes, built column-wise:
        the batch's numbers are serialised in one call and each row is one template fill.
        Formatting floats one Python object at a time (and building a dict per row) is a
        large part of writing a prediction."""
        if self.kind == "classifier":
            assert self.labels is not None
            labels = _encoded(self.labels)
            if self.probabilities is None or self.classes is None:
                return [b'{"label":' + label + b"}" for label in labels]
            classes = list(self.classes)
            k = len(classes)
            if len(set(classes)) != k or np.shape(self.probabilities) != (len(labels), k):
                # Repeated classes (a dict merges them) or a shape rows() refuses: its way.
                return [orjson.dumps(row) for row in self.rows()]
            template = (
                b'{"label":%s,"probabilities":{'
                + b",".join(_literal(orjson.dumps(c)) + b":%s" for c in classes)
                + b"}}"
            )
            cells = _number_cells(self.probabilities)
            return [template % (label, *cells[i * k : i * k + k]) for i, label in enumerate(labels)]
        if self.kind == "regressor":
            assert self.values is not None
            if np.ndim(self.values) == 1:
                return [b'{"value":' + cell + b"}" for cell in _number_cells(self.values)]
        return [orjson.dumps(row) for row in self.rows()]


def _as_float64(numbers: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.asarray(numbers, dtype=np.float64)


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


@dataclass(frozen=True)
class RuntimeInfo:
    """Which engine answers for a model, shown by ``/models`` and the model events. ``hint``
    says what to do when that engine's answers are refused (another engine, say)."""

    engine: str
    version: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.engine} {self.version}"


class Model(Protocol):
    """A loaded model. ``predict`` is called from a worker thread, one batch at a time."""

    @property
    def runtime(self) -> RuntimeInfo:
        """The engine and its version."""
        ...

    @property
    def input_names(self) -> Sequence[str]:
        """Names of the features, in the column order ``predict`` expects; records are
        matched to them (exactly, then by normalised name, or through ``fieldMap``)."""
        ...

    def predict(self, features: FloatMatrix) -> BatchResult:
        """Score a (rows × len(input_names)) matrix."""
        ...

    def close(self) -> None:
        """Free what the model holds; called once, after its last batch."""
        ...


def labels_from_indices(probabilities: npt.NDArray[Any], classes: Sequence[str]) -> list[str]:
    """The most probable class of every row."""
    names = np.asarray(classes, dtype=object)
    return list(names[np.argmax(probabilities, axis=1)])
