"""A member's answers over the rows of a batch, column-wise: which rows it answered, their
labels, values and probabilities. What routes compare (a shadow's agreement), combine (an
ensemble) and rank (the most confident candidate) — with numpy over the batch, from the
engine's batch answer (a batch scored row by row too: its rows' answers are put together),
never read back from the JSON it publishes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import orjson

from service.serving.route import MemberScores

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Columns:
    """``ok[i]``: the member answered row i (the other columns mean nothing where it did
    not). ``labels`` for classifiers, ``values`` for regressors; ``probabilities`` (rows ×
    ``classes``) when the classifier gives them."""

    ok: BoolArray
    labels: list[str] | None = None
    values: FloatArray | None = None
    classes: tuple[str, ...] | None = None
    probabilities: FloatArray | None = None

    def aligned(self, classes: Sequence[str]) -> FloatArray:
        """The probabilities with their columns in the order of ``classes``."""
        assert self.probabilities is not None and self.classes is not None
        if tuple(classes) == self.classes:
            return self.probabilities
        where = {c: i for i, c in enumerate(self.classes)}
        return self.probabilities[:, [where[c] for c in classes]]

    def confidence(self) -> FloatArray:
        """Each row's highest probability (0 where there are none)."""
        if self.probabilities is None or self.probabilities.shape[1] == 0:
            return np.zeros(len(self.ok))
        return np.where(self.ok, self.probabilities.max(axis=1), 0.0)


def columns_of(scores: MemberScores) -> Columns:
    n = len(scores.rows)
    ok = np.fromiter((isinstance(r, bytes) for r in scores.rows), dtype=np.bool_, count=n)
    result = scores.result
    if result is None:  # no row answered (the engine makes sure): nothing to compare
        return Columns(np.zeros(n, dtype=np.bool_))
    where = np.arange(n) if scores.scored is None else np.asarray(scores.scored, dtype=np.intp)
    if result.kind == "classifier" and result.labels is not None:
        labels = [""] * n
        for i, label in zip(where.tolist(), result.labels, strict=True):
            labels[i] = label
        probabilities = classes = None
        if result.probabilities is not None and result.classes is not None:
            classes = tuple(str(c) for c in result.classes)
            probabilities = np.zeros((n, len(classes)))
            probabilities[where] = np.asarray(result.probabilities, dtype=np.float64)
        return Columns(ok, labels=labels, classes=classes, probabilities=probabilities)
    if result.kind == "regressor" and result.values is not None and np.ndim(result.values) == 1:
        values = np.zeros(n)
        values[where] = np.asarray(result.values, dtype=np.float64)
        return Columns(ok, values=values)
    return Columns(np.zeros(n, dtype=np.bool_))  # "outputs": nothing comparable


def answer_json(columns: Columns) -> list[bytes]:
    """Each row's answer in brief — ``"label":…`` or ``"value":…`` — as a JSON member, for
    the ``primary`` object a shadow's record carries beside its own answer; none for a model
    of other outputs."""
    if columns.labels is not None:
        cache: dict[str, bytes] = {}
        out = []
        for label in columns.labels:
            encoded = cache.get(label)
            if encoded is None:
                encoded = cache[label] = b'"label":' + orjson.dumps(label)
            out.append(encoded)
        return out
    if columns.values is not None:
        body = orjson.dumps(columns.values, option=orjson.OPT_SERIALIZE_NUMPY)
        return (
            [b'"value":' + cell for cell in body[1:-1].split(b",")] if len(columns.values) else []
        )
    return []  # other outputs: nothing in brief
