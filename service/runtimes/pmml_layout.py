"""What a PMML model's fields mean, shared by both PMML engines: the input schema its
DataFields declare, the table a batch crosses to the JVM as, and which answer column is the
label or the value and which hold class probabilities. The engines differ in how they call the
JVM, not in how a PMML model is typed or how its answer becomes a BatchResult."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.errors import ModelLoadError
from service.inputs.schema import InputSpec, InputType, TypedBatch
from service.runtimes.base import BatchResult, ResultKind, label_text, labels_from_indices

# PMML's dataType → the schema's; dates and times are passed as the text PMML parses.
_PMML_TYPES: dict[str, InputType] = {
    "string": "string",
    "integer": "integer",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
}


def input_spec(name: str, data_type: str) -> InputSpec:
    """A DataField as an input: every PMML field may be missing (PMML's missing value)."""
    return InputSpec(name, _PMML_TYPES.get(data_type.lower(), "string"))


def column_table(batch: TypedBatch) -> list[list[Any]]:
    """The batch as one list of values per input, in schema order, with None for a missing
    value and whole numbers for an integer field."""
    table = []
    for spec in batch.schema.inputs:
        column = batch.columns[spec.name]
        if spec.type in ("integer", "boolean") and not np.isnan(column).any():
            values = column.astype(np.int64).tolist()
            table.append([v == 1 for v in values] if spec.type == "boolean" else values)
        else:
            table.append(batch.values(spec.name))
    return table


@dataclass(frozen=True)
class PmmlLayout:
    kind: ResultKind
    label_column: str | None
    probability_columns: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    # The model's class value → the descriptor's label for it, when ``labels`` renames them:
    # the predicted label is renamed like the probabilities' keys.
    renamed: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        function: str,
        label_column: str | None,
        probabilities: Sequence[tuple[str, object]],
        labels: Sequence[str] | None,
    ) -> PmmlLayout:
        """``probabilities``: (column, class value) of each probability output, in the model's
        order. ``labels`` (the descriptor's) rename the classes, in that order."""
        columns = tuple(column for column, _ in probabilities)
        if function == "classification" and (label_column is not None or columns):
            own = tuple(label_text(v) for _, v in probabilities)
            if labels and len(labels) != len(columns):
                raise ModelLoadError(f"{len(labels)} labels for {len(columns)} probability outputs")
            classes = tuple(labels) if labels else own
            renamed = dict(zip(own, classes, strict=True)) if labels else {}
            return cls("classifier", label_column, columns, classes, renamed)
        if function == "regression" and label_column is not None:
            return cls("regressor", label_column)
        return cls("outputs", None)

    def result(
        self,
        columns: Mapping[str, Sequence[Any]],
        size: int,
        row_errors: Mapping[int, str] | None = None,
    ) -> BatchResult:
        """The batch's answer, from the engine's answer columns (column name → one value per
        row). Missing values (None) stay visible as NaN so that the checks refuse them."""
        errors = dict(row_errors or {})
        missing = [None] * size
        if self.kind == "outputs":
            names = list(columns)
            rows = zip(*(columns[name] for name in names), strict=True) if names else ()
            outputs = [dict(zip(names, row, strict=True)) for row in rows]
            outputs = outputs or [{} for _ in range(size)]
            return BatchResult("outputs", size, outputs=outputs, row_errors=errors)
        answers: Sequence[Any] = (
            columns.get(self.label_column, missing) if self.label_column else missing
        )
        if self.kind == "regressor":
            values = np.array([np.nan if v is None else v for v in answers], dtype=np.float64)
            return BatchResult("regressor", size, values=values, row_errors=errors)
        probabilities = np.array(
            [columns.get(c, missing) for c in self.probability_columns], dtype=np.float64
        ).T.reshape(size, len(self.probability_columns))
        if (self.label_column is None or self.label_column not in columns) and self.classes:
            answers = labels_from_indices(probabilities, self.classes)  # already renamed
        elif self.renamed:
            answers = [self.renamed.get(label_text(a), a) if a is not None else a for a in answers]
        # An answer with no label, for a row the engine did not refuse, is unusable.
        unanswered = {
            i: "returned no label" for i, a in enumerate(answers) if a is None and i not in errors
        }
        labels = [label_text(label) for label in answers]
        if not self.probability_columns:
            return BatchResult(
                "classifier", size, labels, row_errors=errors, answer_problems=unanswered
            )
        return BatchResult(
            "classifier",
            size,
            labels,
            list(self.classes),
            probabilities,
            row_errors=errors,
            answer_problems=unanswered,
        )
