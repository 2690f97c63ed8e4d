"""How a model takes its inputs as tensors, for clients that send tensors (the Open Inference
Protocol): one tensor per input, or one ``[N,k]`` tensor whose k columns are k scalar inputs
side by side (a scikit-learn model exported by skl2onnx takes ``X``). Records bind field by
field to the schema; tensors bind to this layout, and both become the same typed batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.inputs.schema import InputSchema, InputSpec, InputType

# The element type a schema type is carried in when the model says no more.
_DEFAULT_DTYPES: dict[str, np.dtype[np.generic]] = {
    "double": np.dtype(np.float64),
    "float": np.dtype(np.float32),
    "integer": np.dtype(np.int64),
    "boolean": np.dtype(np.bool_),
    "string": np.dtype(object),
}


@dataclass(frozen=True)
class TensorInput:
    """One tensor a client sends. ``columns``: the schema inputs it carries, one (the tensor is
    that input) or, when ``side_by_side``, k scalar inputs as the k columns of an ``[N,k]``
    tensor; ``shape``: per row (() for a scalar, (k,) side by side, else the input's tensor
    shape, -1 for any size); ``dtype``: the element type the model computes in."""

    name: str
    columns: tuple[str, ...]
    type: InputType
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    side_by_side: bool = False

    @classmethod
    def of_spec(cls, spec: InputSpec, dtype: np.dtype[np.generic] | None = None) -> TensorInput:
        return cls(spec.name, (spec.name,), spec.type, spec.shape, dtype or default_dtype(spec))

    @classmethod
    def of_columns(
        cls, name: str, columns: tuple[str, ...], type: InputType, dtype: np.dtype[np.generic]
    ) -> TensorInput:
        return cls(name, columns, type, (len(columns),), dtype, side_by_side=True)


def default_dtype(spec: InputSpec) -> np.dtype[np.generic]:
    return _DEFAULT_DTYPES[spec.type]


def default_layout(schema: InputSchema) -> tuple[TensorInput, ...]:
    """One tensor per input, named as the input."""
    return tuple(TensorInput.of_spec(spec) for spec in schema.inputs)
