"""A remote server's answer (its output tensors) as a batch result. Which output is which
part: the descriptor's ``outputs`` mapping ({"label": "predict", "probabilities":
"predict_proba"}); else a modelserve peer's own names (``label``, ``probabilities``,
``classes``, ``value``); else one output by its form: ``[n]`` integers or text the label,
``[n]`` floats the value, ``[n, C]`` floats the probabilities (classes named by the
descriptor's ``labels``, in column order, else "0".."C-1"; the label their argmax). Several
outputs that are none of these are passed through as named outputs. An answer that does not
fit the batch (not n rows) is a ScoringError: the engine scores its rows one by one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import ScoringError
from service.oip.messages import Tensor
from service.runtimes.base import BatchResult, label_text, labels_from_indices

PARTS = ("label", "probabilities", "classes", "value")
Array = npt.NDArray[Any]


def result_of(
    outputs: Sequence[Tensor],
    rows: int,
    output_map: Mapping[str, str] | None,
    labels: Sequence[str] | None,
) -> BatchResult:
    tensors = {t.name: t for t in outputs}
    if output_map:
        missing = [name for name in output_map.values() if name not in tensors]
        if missing:
            raise ScoringError(
                f"the server answered no output {missing[0]!r} (it answered {sorted(tensors)})"
            )
        parts = {part: tensors[name] for part, name in output_map.items()}
    elif "label" in tensors or "value" in tensors:
        parts = {part: tensors[part] for part in PARTS if part in tensors}
    elif len(tensors) == 1:
        only = next(iter(tensors.values()))
        part = _part_by_form(only, rows)
        if part is None:
            return _named_outputs(tensors, rows)
        parts = {part: only}
    elif tensors:
        return _named_outputs(tensors, rows)
    else:
        raise ScoringError("the server answered no output")
    return _from_parts(parts, rows, labels)


def _part_by_form(tensor: Tensor, rows: int) -> str | None:
    data = tensor.data
    if data.ndim == 1 or (data.ndim == 2 and data.shape[1] == 1):
        return "value" if data.dtype.kind == "f" else "label"
    if data.ndim == 2 and data.dtype.kind == "f" and data.shape[1] > 1:
        return "probabilities"
    return None


def _from_parts(
    parts: Mapping[str, Tensor], rows: int, labels: Sequence[str] | None
) -> BatchResult:
    for part, tensor in parts.items():
        if part != "classes":
            _check_rows(tensor, rows)
    label_column = _column(parts["label"], rows) if "label" in parts else None
    if "probabilities" in parts:
        probabilities = _numbers(parts["probabilities"])
        if probabilities.ndim != 2:
            raise ScoringError(
                f"the server's probabilities {parts['probabilities'].name!r} are of shape "
                f"{list(probabilities.shape)}, not [{rows}, classes]"
            )
        classes = _classes(parts, probabilities.shape[1], labels, label_column is not None)
        named = (
            [label_text(_text(v)) for v in label_column]
            if label_column is not None
            else labels_from_indices(probabilities, classes)
        )
        return BatchResult("classifier", rows, named, classes, probabilities)
    if label_column is not None:
        return BatchResult("classifier", rows, [label_text(_text(v)) for v in label_column])
    if "value" in parts:
        values = _numbers(parts["value"])
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim > 2:
            raise ScoringError(f"the server's value is of shape {list(values.shape)}")
        return BatchResult("regressor", rows, values=values)
    raise ScoringError(
        f"the server's outputs {sorted(parts)} hold no label, probabilities or value"
    )


def _classes(
    parts: Mapping[str, Tensor], width: int, labels: Sequence[str] | None, has_label: bool
) -> list[str]:
    """The probabilities' column names: the server's ``classes``, the descriptor's
    ``labels``, or (when no label output could disagree with them) the column numbers."""
    if "classes" in parts:
        names = [label_text(_text(v)) for v in parts["classes"].data.reshape(-1)]
        origin = f"the server's classes {parts['classes'].name!r}"
    elif labels:
        names, origin = list(labels), "the descriptor's labels"
    elif not has_label:
        return [str(i) for i in range(width)]
    else:
        raise ScoringError(
            "the server answers labels and probabilities but not their classes: the "
            "descriptor must list them in `labels`, in column order"
        )
    if len(names) != width:
        raise ScoringError(f"{origin} name {len(names)} classes, the probabilities have {width}")
    return names


def _named_outputs(tensors: Mapping[str, Tensor], rows: int) -> BatchResult:
    columns: dict[str, list[Any]] = {}
    for name, tensor in tensors.items():
        _check_rows(tensor, rows)
        data = tensor.data
        if data.dtype == object:
            data = np.vectorize(_text, otypes=[object])(data) if data.size else data
        columns[name] = data.tolist()
    outputs = [{name: values[i] for name, values in columns.items()} for i in range(rows)]
    return BatchResult("outputs", rows, outputs=outputs)


def _check_rows(tensor: Tensor, rows: int) -> None:
    shape = tensor.data.shape
    if not shape or shape[0] != rows:
        raise ScoringError(
            f"the server's output {tensor.name!r} is of shape {list(shape)}: "
            f"not one row per record of the batch of {rows}"
        )


def _column(tensor: Tensor, rows: int) -> Array:
    data = tensor.data
    if data.ndim == 2 and data.shape[1] == 1:
        return data[:, 0]
    if data.ndim != 1:
        raise ScoringError(
            f"the server's label {tensor.name!r} is of shape {list(data.shape)}, not [{rows}]"
        )
    return data


def _numbers(tensor: Tensor) -> npt.NDArray[np.float64]:
    if tensor.data.dtype == object:
        raise ScoringError(f"the server's output {tensor.name!r} holds text, not numbers")
    return tensor.data.astype(np.float64)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
