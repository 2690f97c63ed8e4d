"""A Python handler's answers, one per row in the contract's ``result`` shape, made into the
column-wise BatchResult every runtime returns; and the records a ``transform_list`` handler
is given, as JSON text.

A handler's answers are read strictly: a row answered in another shape (unknown keys, a label
that is not text or a number, probabilities that are not a mapping of numbers) is that row's
``answer_problems`` entry, a dead letter saying why, never an exception for the batch. What
the shape allows is then checked like any runtime's answer (runtimes/checks.py: probabilities
that sum to 1, finite values)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from service.inputs.schema import TypedBatch
from service.runtimes.base import BatchResult, label_text
from service.runtimes.checks import row_problems
from service.untrusted import preview

_SHAPES = ({"label"}, {"label", "probabilities"}, {"value"}, {"outputs"})
_SHAPES_TEXT = '{"label"}, {"label", "probabilities"}, {"value"} or {"outputs"}'


class Malformed(ValueError):
    """Why one answer is not a result object."""


@dataclass(frozen=True)
class Answer:
    """One row's well-formed answer."""

    label: str | None = None
    probabilities: dict[str, float] | None = None
    value: float | None = None
    outputs: dict[str, Any] | None = None

    def as_outputs(self) -> dict[str, Any]:
        """The answer as named outputs (for a batch whose rows differ in kind)."""
        if self.outputs is not None:
            return self.outputs
        if self.value is not None:
            return {"value": self.value}
        if self.probabilities is not None:
            return {"label": self.label, "probabilities": self.probabilities}
        return {"label": self.label}


def read_answer(answer: object) -> Answer:
    """The answer, or Malformed saying what is wrong with it."""
    if not isinstance(answer, Mapping):
        raise Malformed(f"answered {_kind(answer)}, not a result object")
    keys = set(answer)
    if keys not in _SHAPES:
        shown = ", ".join(sorted(preview(k, 40) for k in keys)) or "none"
        raise Malformed(f"answered the keys {{{shown}}}; a result has {_SHAPES_TEXT}")
    if "value" in keys:
        return Answer(value=_number(answer["value"], "value"))
    if "outputs" in keys:
        return Answer(outputs=_outputs(answer["outputs"]))
    label = _label(answer["label"], "label")
    if "probabilities" not in keys:
        return Answer(label=label)
    given = answer["probabilities"]
    if not isinstance(given, Mapping) or not given:
        raise Malformed(f"answered probabilities that are {_kind(given)}, not a class → number map")
    probabilities = {_label(c, "class"): _number(p, "probability") for c, p in given.items()}
    if len(probabilities) != len(given):
        raise Malformed("answered probabilities of classes that read the same as text")
    return Answer(label=label, probabilities=probabilities)


def batch_result(answers: Sequence[object], size: int) -> BatchResult:
    """The batch's answer from the handler's ``answers`` (one per row, already counted)."""
    read: dict[int, Answer] = {}
    problems: dict[int, str] = {}
    for i, answer in enumerate(answers):
        try:
            read[i] = read_answer(answer)
        except Malformed as exc:
            problems[i] = str(exc)
    good = list(read.values())
    if good and all(a.probabilities is not None for a in good):
        classes = list(good[0].probabilities or ())
        if all(set(a.probabilities or ()) == set(classes) for a in good):
            matrix = np.full((size, len(classes)), np.nan)
            labels = [""] * size  # a malformed row's filler: it is refused by its problem
            for i, a in read.items():
                assert a.probabilities is not None and a.label is not None
                matrix[i] = [a.probabilities[c] for c in classes]
                labels[i] = a.label
            return BatchResult(
                "classifier", size, labels, classes, matrix, answer_problems=problems
            )
    elif good and all(a.label is not None and a.probabilities is None for a in good):
        labels = [read[i].label or "" if i in read else "" for i in range(size)]
        return BatchResult("classifier", size, labels, answer_problems=problems)
    elif good and all(a.value is not None for a in good):
        values = np.array([read[i].value if i in read else np.nan for i in range(size)])
        return BatchResult("regressor", size, values=values, answer_problems=problems)
    # Rows of different kinds (or classifiers of different classes): named outputs, and the
    # checks a classifier row would have had are made here, as outputs are not checked so.
    for i, a in read.items():
        if a.probabilities is not None and i not in problems:
            row = np.array([list(a.probabilities.values())])
            alone = BatchResult("classifier", 1, [a.label or ""], list(a.probabilities), row)
            for why in row_problems(alone).values():
                problems[i] = why
    outputs = [read[i].as_outputs() if i in read else {} for i in range(size)]
    return BatchResult("outputs", size, outputs=outputs, answer_problems=problems)


def from_json_text(text: object) -> object:
    """A ``transform_list`` answer as a result: a JSON object is one (in the contract's
    shape); any other JSON value, or text that is not JSON, is ``{"outputs": {"result": it}}``
    (Jet's handlers answer any text)."""
    if not isinstance(text, str | bytes):
        return text  # refused by read_answer, naming what it is
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text if isinstance(text, str) else text.decode("utf-8", "replace")
    if isinstance(value, dict):
        return value
    return {"outputs": {"result": value}}


def json_rows(batch: TypedBatch) -> list[str]:
    """Each row of the batch as a JSON object of its inputs, typed as the schema says:
    integers as integers, booleans as booleans, a missing value as null."""
    columns: list[tuple[str, list[Any]]] = []
    for spec in batch.schema.inputs:
        values = batch.values(spec.name)
        if spec.type == "integer" and not spec.shape:
            values = [None if v is None else int(v) for v in values]
        elif spec.type == "boolean" and not spec.shape:
            values = [None if v is None else bool(v) for v in values]
        columns.append((spec.name, values))
    return [
        orjson.dumps({name: values[i] for name, values in columns}).decode()
        for i in range(batch.size)
    ]


def _label(value: object, what: str) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return label_text(value)
    raise Malformed(f"answered the {what} {preview(value, 40)}, which is not text or a number")


def _number(value: object, what: str) -> float:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # NaN and infinities pass here: the checks name them
    raise Malformed(f"answered the {what} {preview(value, 40)}, which is not a number")


def _outputs(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Malformed(f"answered outputs that are {_kind(value)}, not a name → value map")
    if not all(isinstance(k, str) for k in value):
        raise Malformed("answered outputs whose names are not all text")
    try:
        # Through JSON and back: numpy values become plain ones, NaN becomes null (which the
        # checks refuse), and what JSON cannot hold is this row's problem, not the batch's.
        encoded = orjson.dumps(dict(value), option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise Malformed(f"answered outputs that are not JSON: {exc}") from None
    decoded: dict[str, Any] = orjson.loads(encoded)
    return decoded


def _kind(value: object) -> str:
    return "a mapping" if isinstance(value, Mapping) else preview(value, 40)
