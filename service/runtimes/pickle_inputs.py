"""What a scikit-learn estimator takes, read from the estimator: its columns
(``feature_names_in_``, or the descriptor's ``inputs``) and their types from what its
ColumnTransformer does with each (a column an encoder fitted on text is a string input; any
other a number); and the pandas DataFrame a model fit on one is given."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from service.errors import ModelLoadError
from service.inputs.schema import MAX_KEPT_CATEGORIES, InputSchema, InputSpec, TypedBatch


def estimator_schema(estimator: Any, inputs: Sequence[str] | None) -> InputSchema | None:
    """The schema of an estimator's inputs, or None when neither it nor ``inputs`` names
    them."""
    fitted = getattr(estimator, "feature_names_in_", None)
    names = list(inputs) if inputs else [str(n) for n in (fitted if fitted is not None else [])]
    if not names:
        return None
    text_columns = dict(_text_columns(estimator))
    return InputSchema(
        tuple(
            InputSpec(name, "string", categories=text_columns[i])
            if i in text_columns
            else InputSpec(name, "double")
            for i, name in enumerate(names)
        )
    )


def with_known_categories(schema: InputSchema, estimator: Any) -> InputSchema:
    """The descriptor's schema, with the categories the estimator's encoders know for its
    string inputs (by column position), so that the warm-up row holds a known one."""
    text_columns = dict(_text_columns(estimator))
    return InputSchema(
        tuple(
            replace(spec, categories=text_columns[i])
            if spec.type == "string" and i in text_columns
            else spec
            for i, spec in enumerate(schema.inputs)
        )
    )


def _text_columns(estimator: Any) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(column position, a few of its categories) for each input column that a
    ColumnTransformer at the front of the estimator hands to an encoder fitted on text."""
    for transformer in _column_transformers(estimator):
        by_transformer = getattr(transformer, "_transformer_to_input_indices", {})
        for step_name, step, _ in getattr(transformer, "transformers_", []):
            encoder = _encoder_in(step)
            if encoder is None:
                continue
            indices = by_transformer.get(step_name, [])
            for index, categories in zip(indices, encoder.categories_, strict=False):
                if np.asarray(categories).dtype.kind in "OUST":
                    kept = tuple(str(c) for c in list(categories)[:MAX_KEPT_CATEGORIES])
                    yield int(index), kept


def _column_transformers(estimator: Any) -> Iterator[Any]:
    """The estimator if it is a ColumnTransformer, or the first step of a Pipeline (nested)."""
    if hasattr(estimator, "transformers_"):
        yield estimator
    steps = getattr(estimator, "steps", None)
    if steps:
        yield from _column_transformers(steps[0][1])


def _encoder_in(step: Any) -> Any:
    """The step if it is a fitted encoder of categories, or the first such step of a
    Pipeline (imputers may come before it)."""
    if hasattr(step, "categories_"):
        return step
    for _, inner in getattr(step, "steps", None) or ():
        if hasattr(inner, "categories_"):
            return inner
    return None


def dataframe(batch: TypedBatch) -> Any:
    """The batch as a DataFrame with the model's column names: strings as objects (None
    missing), integers as int64 when none is missing, other numbers as float64 (NaN
    missing)."""
    try:
        import pandas as pd
    except ImportError as exc:  # the model was fit on a DataFrame somewhere with pandas
        raise ModelLoadError(
            "the model was fit on a pandas DataFrame: install pandas (modelserve[learn])"
        ) from exc
    columns: dict[str, Any] = {}
    for spec in batch.schema.inputs:
        column = batch.columns[spec.name]
        if spec.shape:
            raise ModelLoadError(f"input {spec.name!r} is a tensor; a DataFrame takes scalars")
        if spec.type == "integer" and not np.isnan(column).any():
            column = column.astype(np.int64)
        columns[spec.name] = column
    return pd.DataFrame(columns, copy=False)
