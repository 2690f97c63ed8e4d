"""A remote model's inputs: the tensors its server's metadata lists become the input schema
and the feeds that make each tensor from a typed batch, by the rules of the TensorFlow
runtime (runtimes/tensorflow_inputs.py, which ONNX follows too): one ``[-1, k]`` tensor is k
scalar columns named by the descriptor's ``inputs`` (eleven and none named: the wine
fields), ``[-1]`` and ``[-1, 1]`` one value per row, several tensors one input each. The
descriptor's ``schema`` names and types the record fields instead when it is given; when the
metadata lists no inputs (MLServer's, unless its model settings declare them), it is what the
model takes: one tensor per input, or ``inputs`` as one FP64 ``[n, k]`` tensor ``input-0``,
MLServer's name for an unnamed input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.errors import ModelLoadError
from service.inputs.schema import InputSchema, InputSpec
from service.inputs.tensor_layout import default_dtype
from service.oip.datatypes import DATATYPES
from service.oip.messages import TensorMetadata
from service.runtimes.tensorflow_inputs import Feed, GraphInput, bind_inputs

# The protocol's datatypes by the TensorFlow dtype names tensorflow_inputs.py reads.
_DTYPES = {
    "FP32": "float32",
    "FP64": "float64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "BOOL": "bool",
    "BYTES": "string",
}
UNNAMED_INPUT = "input-0"


def remote_inputs(
    tensors: Sequence[TensorMetadata], inputs: Sequence[str] | None, declared: InputSchema | None
) -> tuple[InputSchema, list[Feed]]:
    if not tensors:
        return _without_metadata(inputs, declared)
    graph = [_graph_input(t) for t in tensors]
    if declared is None:
        return bind_inputs(graph, inputs)
    names = declared.names
    if len(graph) == 1 and declared.all_numeric_scalars and len(names) > 1:
        schema, feeds = bind_inputs(graph, names)  # k declared columns side by side
    elif len(graph) == 1 and len(names) == 1 and declared.inputs[0].shape:
        # One declared input of a tensor per row: the server's one tensor, whole.
        only, spec = tensors[0], declared.inputs[0]
        if spec.type == "string" or only.datatype == "BYTES" or len(only.shape) < 2:
            raise ModelLoadError(
                f"the schema's input {spec.name!r} is a tensor per row of {spec.type}; the "
                f"server takes {only.datatype} of shape {list(only.shape)}"
            )
        _dtype(only)
        dtype = DATATYPES[only.datatype].type
        return declared, [Feed(only.name, only.name, dtype, (spec.name,), len(only.shape))]
    else:
        schema, feeds = bind_inputs(graph, names)
    for ours, theirs in zip(schema.inputs, declared.inputs, strict=True):
        if (ours.type == "string") != (theirs.type == "string") or ours.shape != theirs.shape:
            raise ModelLoadError(
                f"the schema's input {theirs.name!r} ({theirs.type}, per row "
                f"{theirs.describe_shape()}) is not what the server takes "
                f"({ours.type}, per row {ours.describe_shape()})"
            )
    return InputSchema(tuple(declared.inputs)), feeds


def _without_metadata(
    inputs: Sequence[str] | None, declared: InputSchema | None
) -> tuple[InputSchema, list[Feed]]:
    if declared is not None:
        feeds = [
            Feed(s.name, s.name, default_dtype(s).type, (s.name,), 1 + len(s.shape))
            for s in declared.inputs
        ]
        return declared, feeds
    if inputs:
        schema = InputSchema(tuple(InputSpec(name) for name in inputs))
        feed = Feed(UNNAMED_INPUT, UNNAMED_INPUT, np.float64, tuple(inputs), 2, side_by_side=True)
        return schema, [feed]
    raise ModelLoadError(
        "the server's metadata lists no inputs: the descriptor must give `schema` or `inputs`"
    )


def _graph_input(tensor: TensorMetadata) -> GraphInput:
    shape = tuple(d if d >= 0 else None for d in tensor.shape)
    return GraphInput(tensor.name, tensor.name, _dtype(tensor), shape)


def _dtype(tensor: TensorMetadata) -> str:
    dtype = _DTYPES.get(tensor.datatype)
    if dtype is None:
        raise ModelLoadError(
            f"the server's input {tensor.name!r} is {tensor.datatype}, which modelserve does not "
            f"send (it sends {', '.join(_DTYPES)})"
        )
    return dtype
