"""The one interface every model format implements, and the batch result it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from service.inputs.schema import InputSchema, TypedBatch
from service.inputs.tensor_layout import TensorInput, default_layout

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
    # Rows the engine refused to score (index → why: their input); they become dead letters.
    row_errors: Mapping[int, str] = field(default_factory=dict)
    # Rows the engine answered unusably (index → why: no label, say); dead letters too, and,
    # unlike a refused input, a model whose warm-up row has one does not load.
    answer_problems: Mapping[int, str] = field(default_factory=dict)
    # A classifier's raw per-class scores [n, C] that are not a probability distribution (a
    # sigmoid per class): published as they are beside the label, never as probabilities.
    scores: npt.NDArray[Any] | None = None

    def rows(self) -> list[dict[str, Any]]:
        if self.kind == "classifier":
            assert self.labels is not None
            if self.scores is not None:
                scores = _as_float64(self.scores).reshape(self.size, -1).tolist()
                return [
                    {"label": label, "scores": row}
                    for label, row in zip(self.labels, scores, strict=True)
                ]
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

    def take(self, rows: Sequence[int]) -> BatchResult:
        """The answer of the given rows only (the requests of a batch, each its own)."""
        index = np.asarray(rows, dtype=np.intp)

        def pick(values: Sequence[Any] | None) -> list[Any] | None:
            return None if values is None else [values[i] for i in rows]

        return BatchResult(
            self.kind,
            len(index),
            pick(self.labels),
            self.classes,
            None if self.probabilities is None else np.asarray(self.probabilities)[index],
            None if self.values is None else np.asarray(self.values)[index],
            pick(self.outputs),
            scores=None if self.scores is None else np.asarray(self.scores)[index],
        )


@dataclass(frozen=True)
class OutputColumn:
    name: str
    text: bool
    width: int | None  # values per row; None: one

    @classmethod
    def of(cls, name: str, example: Any) -> OutputColumn:
        values = example if isinstance(example, list) else [example]
        text = any(isinstance(v, str) for v in values)
        return cls(name, text, len(values) if isinstance(example, list) else None)


@dataclass(frozen=True)
class AnswerShape:
    """What a model answers, as seen at its warm-up: a route checks that its members agree
    (an ensemble's label sets, a shadow's kind) before it lets them answer together."""

    kind: ResultKind
    # A classifier's, when it gives probabilities or scores (``scores`` says which).
    classes: tuple[str, ...] | None = None
    scalar: bool = True  # a regressor's one value per row
    # A classifier that answers raw per-class scores: how many per row (None: it does not).
    scores: int | None = None
    # A model of named outputs: each output's name, whether it is text, and its values per
    # row (None: one). What tensor clients are told it answers; no route compares them.
    outputs: tuple[OutputColumn, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, result: BatchResult) -> AnswerShape:
        classes = None
        answers_columns = result.probabilities is not None or result.scores is not None
        if result.kind == "classifier" and answers_columns and result.classes:
            classes = tuple(str(c) for c in result.classes)
        scalar = result.kind != "regressor" or (
            result.values is not None and np.ndim(result.values) == 1
        )
        outputs: tuple[OutputColumn, ...] = ()
        if result.kind == "outputs" and result.outputs:
            outputs = tuple(OutputColumn.of(k, v) for k, v in result.outputs[0].items())
        scores = None
        if result.kind == "classifier" and result.scores is not None:
            scores = int(np.asarray(result.scores).reshape(result.size, -1).shape[1])
        return cls(result.kind, classes, scalar, scores=scores, outputs=outputs)

    @property
    def probabilities(self) -> bool:
        """A classifier whose classes come with probabilities (not raw scores)."""
        return self.classes is not None and self.scores is None

    def describe(self) -> str:
        if self.kind == "classifier":
            return f"classifier of {list(self.classes)}" if self.classes else "classifier"
        return self.kind


def _as_float64(numbers: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.asarray(numbers, dtype=np.float64)


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
    def input_schema(self) -> InputSchema:
        """The model's inputs: name, type and per-row shape of each. Records are matched to
        the names (exactly, then by normalised name, or through ``fieldMap``) and converted
        to the types (inputs/conversion.py)."""
        ...

    def predict(self, batch: TypedBatch) -> BatchResult:
        """Score a batch typed to ``input_schema``."""
        ...

    def close(self) -> None:
        """Free what the model holds; called once, after its last batch."""
        ...


@runtime_checkable
class TakesTensors(Protocol):
    """A model that says how tensor clients send its inputs (ONNX: as its graph takes them);
    any other takes one tensor per input of its schema."""

    @property
    def tensor_inputs(self) -> tuple[TensorInput, ...]: ...


@runtime_checkable
class CallsAnEndpoint(Protocol):
    """A model served by another server (REMOTE): the state of that server as the service
    sees it, ``{"url", "state": "up" | "down", "since", "lastError"}``."""

    def endpoint_state(self) -> Mapping[str, Any]: ...


def tensor_inputs(model: Model) -> tuple[TensorInput, ...]:
    if isinstance(model, TakesTensors):
        return model.tensor_inputs
    return default_layout(model.input_schema)


def concatenated(results: Sequence[BatchResult]) -> BatchResult | None:
    """One answer of the rows of several (rows scored one by one, say), or None when they
    differ in kind or classes and so make no columns together."""
    if not results:
        return None
    first = results[0]
    if any(r.kind != first.kind or r.classes != first.classes for r in results):
        return None
    size = sum(r.size for r in results)
    if first.kind == "classifier":
        labels = [label for r in results for label in (r.labels or ())]
        probabilities = None
        if all(r.probabilities is not None for r in results):
            probabilities = np.vstack([np.asarray(r.probabilities) for r in results])
        scores = None
        if all(r.scores is not None for r in results):
            scores = np.vstack([np.asarray(r.scores).reshape(r.size, -1) for r in results])
        elif any(r.scores is not None for r in results):
            return None
        if len(labels) != size:
            return None
        return BatchResult("classifier", size, labels, first.classes, probabilities, scores=scores)
    if first.kind == "regressor" and all(r.values is not None for r in results):
        values = np.concatenate([np.asarray(r.values).reshape(r.size, -1) for r in results])
        scalar = values.shape[1] == 1  # one value per row stays a vector
        return BatchResult("regressor", size, values=values[:, 0] if scalar else values)
    if first.kind == "outputs" and all(r.outputs is not None for r in results):
        outputs = [row for r in results for row in (r.outputs or ())]
        return BatchResult("outputs", size, outputs=outputs) if len(outputs) == size else None
    return None


def label_text(value: object) -> str:
    """Labels are text, and a whole number reads the same however a runtime typed it (6, not
    6.0, for a float, a numpy scalar or a JVM's double)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def labels_from_indices(probabilities: npt.NDArray[Any], classes: Sequence[str]) -> list[str]:
    """The most probable class of every row."""
    names = np.asarray(classes, dtype=object)
    return list(names[np.argmax(probabilities, axis=1)])
