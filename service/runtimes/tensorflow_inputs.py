"""How a TensorFlow model's input tensors (a graph's placeholders, a signature's inputs) become
the input schema, and how a typed batch feeds them: the rules ONNX models follow
(runtimes/onnx.py). One [N,k] input is k scalar columns, named by the descriptor's ``inputs``
(or, for eleven columns and no ``inputs``, the wine record's fields, which is what
Lightbend's wine models take); several inputs are one input each, under their own names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import ModelLoadError
from service.inputs.schema import FLOATING_TYPES, InputSchema, InputSpec, InputType, TypedBatch
from service.inputs.tensor_layout import TensorInput
from service.wine import WINE_FIELDS

# TensorFlow dtype name → the schema's type, and the numpy type the session is fed.
_DTYPES: dict[str, tuple[InputType, npt.DTypeLike]] = {
    "float32": ("float", np.float32),
    "float64": ("double", np.float64),
    "int64": ("integer", np.int64),
    "int32": ("integer", np.int32),
    "int16": ("integer", np.int16),
    "int8": ("integer", np.int8),
    "uint64": ("integer", np.uint64),
    "uint32": ("integer", np.uint32),
    "uint16": ("integer", np.uint16),
    "uint8": ("integer", np.uint8),
    "bool": ("boolean", np.bool_),
    "string": ("string", np.object_),
}


@dataclass(frozen=True)
class GraphInput:
    """One input tensor as the model declares it. ``shape``: None when its rank is unknown
    (a placeholder without a shape), a dimension None when unknown; ``width``: its columns
    as read elsewhere when the shape does not say (the kernel of the MatMul it feeds)."""

    name: str  # what clients call it: the placeholder's name, the signature's key
    tensor: str  # what the session is fed: "dense_1_input:0"
    dtype: str  # TensorFlow's dtype name
    shape: tuple[int | None, ...] | None
    width: int | None = None


@dataclass(frozen=True)
class Feed:
    """One input tensor, and the schema columns that make it: k scalar columns side by side
    (an [N,k] tensor), one scalar column (fed as [N] or [N,1], per ``rank``), or one tensor
    column."""

    name: str
    tensor: str
    dtype: npt.DTypeLike
    columns: tuple[str, ...]
    rank: int
    side_by_side: bool = False

    def array(self, batch: TypedBatch) -> npt.NDArray[Any]:
        if self.side_by_side:
            if self.dtype is np.object_:
                return np.column_stack([batch.columns[c] for c in self.columns])
            matrix = batch.matrix(self.columns)
            _check_integers(self.dtype, matrix, self.columns)
            return matrix.astype(self.dtype, copy=False)
        column = batch.columns[self.columns[0]]
        if column.ndim == 1 and self.rank == 2:
            column = column.reshape(-1, 1)
        _check_integers(self.dtype, column, self.columns)
        return column.astype(self.dtype, copy=False)


def bind_inputs(
    graph_inputs: Sequence[GraphInput], inputs: Sequence[str] | None
) -> tuple[InputSchema, list[Feed]]:
    """The schema, and how its columns feed the model."""
    if not graph_inputs:
        raise ModelLoadError("the model has no input tensor")
    for node in graph_inputs:
        if node.dtype not in _DTYPES:
            raise ModelLoadError(
                f"input {node.name!r} is of type {node.dtype}, which modelserve does not feed "
                f"(it feeds {', '.join(_DTYPES)})"
            )
    if len(graph_inputs) == 1:
        only = graph_inputs[0]
        if only.shape is None or len(only.shape) == 2:
            return _columns(only, inputs)
    return _one_per_input(graph_inputs, inputs)


def _columns(node: GraphInput, inputs: Sequence[str] | None) -> tuple[InputSchema, list[Feed]]:
    """One [N,k] tensor (or one of unknown rank, taken as [N,k]): k scalar columns."""
    type_, dtype = _DTYPES[node.dtype]
    width = node.shape[1] if node.shape is not None else None
    width = width if width is not None else node.width
    if width is None and inputs:
        width = len(inputs)
    if width is None:
        raise ModelLoadError(
            f"the model's input {node.name!r} does not say how many values it takes: "
            "the descriptor must list its columns in `inputs`"
        )
    if inputs is None:
        if width == 1:
            inputs = [node.name]
        elif width == len(WINE_FIELDS):
            # Lightbend's wine models take the eleven fields of a WineRecord, in its order:
            # their descriptors name no inputs.
            inputs = list(WINE_FIELDS)
        else:
            raise ModelLoadError(
                f"the model takes one tensor {node.name!r} of width {width}: "
                "the descriptor must list its columns in `inputs`"
            )
    if width != len(inputs):
        raise ModelLoadError(
            f"`inputs` names {len(inputs)} fields, the model's input {node.name!r} takes {width}"
        )
    if len(set(inputs)) != len(inputs):
        raise ModelLoadError("`inputs` names a field twice")
    nullable = type_ in FLOATING_TYPES
    specs = tuple(InputSpec(name, type_, nullable=nullable) for name in inputs)
    feed = Feed(node.name, node.tensor, dtype, tuple(inputs), 2, side_by_side=True)
    return InputSchema(specs), [feed]


def _one_per_input(
    graph_inputs: Sequence[GraphInput], inputs: Sequence[str] | None
) -> tuple[InputSchema, list[Feed]]:
    """One schema input per tensor, under the tensor's name, each a scalar ([N], [N,1]) or a
    tensor per row. ``inputs``, if given, must name the same inputs (it orders them); or, for
    a model of one input, it renames it."""
    by_name = {node.name: node for node in graph_inputs}
    names = {node.name: node.name for node in graph_inputs}
    if inputs is not None and len(graph_inputs) == 1 and len(inputs) == 1:
        names = {graph_inputs[0].name: inputs[0]}
    elif inputs is not None:
        if sorted(inputs) != sorted(by_name):
            raise ModelLoadError(
                f"`inputs` names {list(inputs)}, but the model's inputs are {sorted(by_name)}"
            )
        graph_inputs = [by_name[name] for name in inputs]
    specs: list[InputSpec] = []
    feeds: list[Feed] = []
    for node in graph_inputs:
        type_, dtype = _DTYPES[node.dtype]
        if node.shape is None or len(node.shape) == 0:
            shown = "an unknown shape" if node.shape is None else "one value, not a batch"
            raise ModelLoadError(f"input {node.name!r} takes {shown}: modelserve cannot feed it")
        per_row = tuple(d if d is not None and d > 0 else -1 for d in node.shape[1:])
        if per_row in ((), (1,)):
            per_row = ()  # [N] or [N,1]: one value per row
        elif type_ == "string":
            raise ModelLoadError(
                f"input {node.name!r} takes a tensor of strings per record, which modelserve "
                "does not feed: only one string per record and input"
            )
        name = names[node.name]
        specs.append(InputSpec(name, type_, per_row, nullable=type_ in FLOATING_TYPES))
        feeds.append(Feed(node.name, node.tensor, dtype, (name,), len(node.shape)))
    return InputSchema(tuple(specs)), feeds


def tensor_layout(schema: InputSchema, feeds: Sequence[Feed]) -> tuple[TensorInput, ...]:
    """The inputs as tensor clients send them: an [N,k] input as itself, the others one
    tensor per input, in the element types the model computes in."""
    if len(feeds) == 1 and feeds[0].side_by_side and feeds[0].columns != (feeds[0].name,):
        feed = feeds[0]
        spec = schema.inputs[0]
        return (TensorInput.of_columns(feed.name, feed.columns, spec.type, np.dtype(feed.dtype)),)
    by_name = {spec.name: spec for spec in schema.inputs}
    return tuple(TensorInput.of_spec(by_name[f.columns[0]], np.dtype(f.dtype)) for f in feeds)


def _check_integers(dtype: npt.DTypeLike, values: npt.NDArray[Any], names: Sequence[str]) -> None:
    """Numbers a narrow integer input cannot hold would wrap around: the batch fails instead,
    and its rows are scored one by one, the out-of-range ones refused (as ONNX's)."""
    if not np.issubdtype(dtype, np.integer) or not values.size:
        return
    bounds = np.iinfo(dtype)
    if values.min() < bounds.min or values.max() > bounds.max:
        shown = names[0] if len(names) == 1 else ", ".join(names)
        raise ValueError(
            f"input {shown!r} takes {np.dtype(dtype).name} ({bounds.min} to {bounds.max})"
        )
