"""A TensorFlow model's answer, read from its output tensors. A graph says nothing of what its
numbers mean, so the answer is read from the tensor's shape and the op that makes it:

- [N] or [N,1] floats: a regressor's values;
- [N,C] floats made by a Softmax: a classifier's probabilities (classes: the descriptor's
  ``labels``, else "0".."C-1"), the label the most probable class;
- [N,C] floats made by anything else (Lightbend's wine net: a sigmoid per class, rows summing
  0.7 to 1.5): scores, not probabilities. The label is the highest-scoring class, and the raw
  scores go beside it, never published as probabilities (the checks would refuse them);
- [N] or [N,1] integers or strings: labels;
- anything else, or several outputs: named outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.runtimes.base import BatchResult, label_text, labels_from_indices


@dataclass(frozen=True)
class OutputTensor:
    name: str  # what the answer calls it (the descriptor's `outputs`, the signature's key)
    tensor: str  # what the session fetches: "dense_3/Sigmoid:0"
    softmax: bool  # made by a Softmax op: its rows are probabilities


def answer(
    outputs: Sequence[OutputTensor],
    values: Sequence[Any],
    size: int,
    labels: Sequence[str] | None,
) -> BatchResult:
    if len(outputs) != 1:
        return BatchResult("outputs", size, outputs=_named_outputs(outputs, values, size))
    output = outputs[0]
    array = np.asarray(values[0])
    if array.ndim == 0 or array.shape[0] != size:
        raise ValueError(
            f"output {output.name!r} has shape {list(array.shape)}, not one row per input row"
        )
    rows = _per_row(array, size) if array.ndim <= 2 else None
    if rows is None or array.dtype == np.bool_:
        return BatchResult("outputs", size, outputs=_named_outputs(outputs, values, size))
    if rows.shape[1] == 1 or rows.shape[1] == 0:
        column = rows[:, 0] if rows.shape[1] else rows.reshape(size)
        if array.dtype.kind == "f":
            return BatchResult("regressor", size, values=column.astype(np.float64))
        return BatchResult("classifier", size, [_label(v) for v in column.tolist()])
    if array.dtype.kind != "f":
        return BatchResult("outputs", size, outputs=_named_outputs(outputs, values, size))
    classes = _classes(labels, rows.shape[1], output.name)
    if output.softmax:
        # Probabilities in the precision they were computed in, so that the checks judge
        # their sum at it (a float32 softmax sums to 1 within float32 rounding).
        return BatchResult(
            "classifier", size, labels_from_indices(rows, classes), classes, probabilities=rows
        )
    return _scored(rows, classes, size)


def _scored(rows: npt.NDArray[Any], classes: list[str], size: int) -> BatchResult:
    """The highest-scoring class of each row, with the scores. A row with a NaN or infinite
    score has no highest class (argmax would name the first NaN's): it is refused."""
    finite = np.isfinite(rows).all(axis=1)
    problems = {
        i: f"returned scores that are NaN or infinite ({rows[i].tolist()})"
        for i in np.flatnonzero(~finite).tolist()
    }
    return BatchResult(
        "classifier",
        size,
        labels_from_indices(rows, classes),
        classes,  # the scores' columns: what a route compares its members' labels by
        scores=rows,
        answer_problems=problems,
    )


def _classes(labels: Sequence[str] | None, width: int, name: str) -> list[str]:
    if labels is None:
        return [str(i) for i in range(width)]
    if len(labels) != width:
        raise ValueError(f"{len(labels)} labels for the {width} columns of output {name!r}")
    return list(labels)


def _per_row(array: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """[N, ...] as [N, values per row] (reshape(size, -1) refuses an empty batch)."""
    return array.reshape(size, int(np.prod(array.shape[1:], dtype=np.int64)))


def _label(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return label_text(value)


def _named_outputs(
    outputs: Sequence[OutputTensor], values: Sequence[Any], size: int
) -> list[dict[str, Any]]:
    """Each row's values of every output, by name: one value, or a list of them."""
    columns: dict[str, list[Any]] = {}
    for output, value in zip(outputs, values, strict=True):
        array = np.asarray(value)
        if array.ndim == 0 or array.shape[0] != size:
            raise ValueError(
                f"output {output.name!r} has shape {list(array.shape)}, not one row per input row"
            )
        if array.dtype.kind in "SO":
            array = np.vectorize(_label, otypes=[object])(array)
        columns[output.name] = _per_row(array, size).tolist()
    return [
        {name: (col[i][0] if len(col[i]) == 1 else col[i]) for name, col in columns.items()}
        for i in range(size)
    ]
