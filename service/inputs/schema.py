"""What a model takes: per input its name, type and per-row shape (the input schema), and a
batch of rows typed to it, column by column (the typed batch). Runtimes read the schema from
the model itself (ONNX element types, PMML DataFields, a pickle's columns) or from the
descriptor's ``schema``; the engine builds typed batches from records; a runtime feeds each
column to its engine in its own form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]
InputType = Literal["double", "float", "integer", "boolean", "string"]
INPUT_TYPES: tuple[str, ...] = get_args(InputType)
NUMERIC_TYPES = frozenset(("double", "float", "integer", "boolean"))
FLOATING_TYPES = frozenset(("double", "float"))
# How many category names an input keeps (for the warm-up row): what a model declares may be
# huge, and one is enough.
MAX_KEPT_CATEGORIES = 16


@dataclass(frozen=True)
class InputSpec:
    """One input. ``shape`` is per row: () for a scalar, fixed dimensions for a tensor (-1: any
    size, equal across a batch). ``nullable``: the model takes a missing value (NaN, a PMML
    missing value, None in a DataFrame); an ONNX integer or string input does not.
    ``categories``: a few values the model knows, when it says (its warm-up row uses one)."""

    name: str
    type: InputType = "double"
    shape: tuple[int, ...] = ()
    nullable: bool = True
    categories: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_tensor(self) -> bool:
        return bool(self.shape)

    def document(self) -> dict[str, Any]:
        """How ``/models``, the model events and the descriptor's ``schema`` write it."""
        return {"name": self.name, "type": self.type, "shape": list(self.shape)}

    def describe_shape(self) -> str:
        return "[" + ", ".join("*" if d < 0 else str(d) for d in self.shape) + "]"

    def example(self) -> Any:
        """A value this input takes, for the one-row warm-up."""
        if self.shape:
            return np.zeros([max(d, 1) for d in self.shape]).tolist()
        if self.type == "string":
            return self.categories[0] if self.categories else ""
        if self.type == "boolean":
            return False
        return 0


@dataclass(frozen=True)
class InputSchema:
    inputs: tuple[InputSpec, ...]

    @classmethod
    def numeric(cls, names: Sequence[str], type: InputType = "double") -> InputSchema:
        """Scalar numbers, one per name: the wine models, and every model of one matrix."""
        return cls(tuple(InputSpec(name, type) for name in names))

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    @property
    def all_numeric_scalars(self) -> bool:
        """Every input a scalar number: a batch is one float matrix (the fast path)."""
        return all(s.type in NUMERIC_TYPES and not s.shape for s in self.inputs)

    def document(self) -> list[dict[str, Any]]:
        return [spec.document() for spec in self.inputs]

    def example_row(self) -> dict[str, Any]:
        return {spec.name: spec.example() for spec in self.inputs}

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass(frozen=True)
class TypedBatch:
    """Rows typed to a schema, one array per input (by name), each of ``size`` rows:
    - numbers (double, float, integer, boolean): float64, NaN for a missing value;
    - strings: an object array of str, None for a missing value;
    - tensors: float64 of shape (size, *per-row shape).
    A batch of scalar numbers keeps its matrix (built in one go), and ``matrix()`` returns it
    without a copy: the all-number batch costs what it did before types."""

    schema: InputSchema
    columns: Mapping[str, npt.NDArray[Any]]
    size: int
    _matrix: FloatMatrix | None = None

    @classmethod
    def of_matrix(cls, schema: InputSchema | Sequence[str], matrix: npt.ArrayLike) -> TypedBatch:
        """A batch of scalar numbers from a (rows × inputs) matrix."""
        if not isinstance(schema, InputSchema):
            schema = InputSchema.numeric(schema)
        rows = np.asarray(matrix, dtype=np.float64)
        if rows.ndim != 2:  # a flat matrix (a model of no inputs keeps its rows)
            rows = rows.reshape(-1, len(schema))
        columns = {name: rows[:, j] for j, name in enumerate(schema.names)}
        return cls(schema, columns, rows.shape[0], rows)

    @classmethod
    def concatenated(cls, batches: Sequence[TypedBatch]) -> TypedBatch:
        """The rows of several batches of one schema, in order (requests scored together)."""
        if len(batches) == 1:
            return batches[0]
        schema = batches[0].schema
        matrices = [b._matrix for b in batches]
        if all(m is not None for m in matrices):
            return cls.of_matrix(schema, np.concatenate(matrices))  # type: ignore[arg-type]
        columns = {n: np.concatenate([b.columns[n] for b in batches]) for n in schema.names}
        return cls(schema, columns, sum(b.size for b in batches))

    def matrix(self, names: Sequence[str] | None = None) -> FloatMatrix:
        """The scalar number columns (``names``, else all inputs) side by side."""
        if self._matrix is not None and (names is None or list(names) == self.schema.names):
            return self._matrix
        chosen = self.schema.names if names is None else list(names)
        if not chosen:
            return np.empty((self.size, 0))
        return np.column_stack([np.asarray(self.columns[n], dtype=np.float64) for n in chosen])

    def take(self, rows: Sequence[int] | npt.NDArray[np.intp]) -> TypedBatch:
        """The batch of the given rows only."""
        index = np.asarray(rows, dtype=np.intp)
        matrix = self._matrix[index] if self._matrix is not None else None
        columns = {name: column[index] for name, column in self.columns.items()}
        return TypedBatch(self.schema, columns, len(index), matrix)

    def values(self, name: str) -> list[Any]:
        """A column as Python values (None for a missing value): what a JVM or a JSON table
        takes."""
        column = self.columns[name]
        if column.dtype == object:
            return list(column)
        listed: list[Any] = column.tolist()
        if np.isnan(column).any():
            return _none_for_nan(listed)
        return listed


def _none_for_nan(values: list[Any]) -> list[Any]:
    return [_none_for_nan(v) if isinstance(v, list) else (None if v != v else v) for v in values]
