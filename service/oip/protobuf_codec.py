"""The protocol's protobuf messages (schemas/open_inference_grpc.proto) decoded into
``messages`` and encoded back, for every transport that carries them: gRPC (grpc/) and Kafka
(Seldon Core v2 puts a ``ModelInferRequest`` on its topics).

A request's tensor data comes one of two ways, never both: typed, each input's in the field
of ``contents`` that its datatype names (INT8/16/32 in ``int_contents``, UINT8/16/32 in
``uint_contents``, ...), or raw, one entry of ``raw_input_contents`` per input, in input
order, in the binary form of datatypes.py. FP16 comes raw only: the protocol has no typed
field for it (its .proto says so, and Triton refuses it typed too). Answers are raw, in
``raw_output_contents``, as Triton answers: ``tritonclient.grpc`` reads only those."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from service.oip.datatypes import (
    DATATYPES,
    Array,
    check_datatype,
    check_shape,
    from_binary,
    to_binary,
)
from service.oip.messages import (
    InferRequest,
    InferResponse,
    ModelMetadata,
    OipError,
    OutputTensor,
    Parameters,
    RequestedOutput,
    Tensor,
    TensorMetadata,
)
from service.oip.rest_codec import MAX_INPUTS
from service.proto import open_inference_grpc_pb2 as pb

# The field of InferTensorContents that holds each datatype's elements, and the numpy type
# that field's values are read as (wider than the datatype for INT8/16, UINT8/16).
_CONTENTS: dict[str, tuple[str, np.dtype[Any]]] = {
    "BOOL": ("bool_contents", np.dtype(np.bool_)),
    "INT8": ("int_contents", np.dtype(np.int32)),
    "INT16": ("int_contents", np.dtype(np.int32)),
    "INT32": ("int_contents", np.dtype(np.int32)),
    "INT64": ("int64_contents", np.dtype(np.int64)),
    "UINT8": ("uint_contents", np.dtype(np.uint32)),
    "UINT16": ("uint_contents", np.dtype(np.uint32)),
    "UINT32": ("uint_contents", np.dtype(np.uint32)),
    "UINT64": ("uint64_contents", np.dtype(np.uint64)),
    "FP32": ("fp32_contents", np.dtype(np.float32)),
    "FP64": ("fp64_contents", np.dtype(np.float64)),
    "BYTES": ("bytes_contents", np.dtype(object)),
}
_INT64 = range(-(2**63), 2**63)
_UINT64 = range(2**64)


def request_from_proto(message: Any) -> tuple[str, str | None, InferRequest]:
    """The model's name (as the message gives it, perhaps empty: a Kafka topic may name the
    model instead), its version (None: whichever serves) and the request, from a
    ``ModelInferRequest`` or its serialized bytes; an OipError(400) when it is not one."""
    if isinstance(message, bytes | bytearray | memoryview):
        message = parse(pb.ModelInferRequest, bytes(message))
    if not message.inputs:
        raise OipError(400, "the request has no inputs")
    if len(message.inputs) > MAX_INPUTS:
        raise OipError(400, f"at most {MAX_INPUTS} inputs")
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise OipError(
            400,
            f"{len(raw)} raw_input_contents for {len(message.inputs)} inputs "
            "(one per input, in input order)",
        )
    inputs = [_input(t, raw[i] if raw else None) for i, t in enumerate(message.inputs)]
    request = InferRequest(
        inputs,
        id=message.id or None,
        outputs=[_output(o) for o in message.outputs] or None,
        parameters=_parameters(message.parameters),
    )
    return message.model_name, message.model_version or None, request


def parse(kind: Any, data: bytes) -> Any:
    """``data`` read as a message of ``kind``; an OipError(400) when it is not one."""
    try:
        return kind.FromString(data)
    except DecodeError:
        raise OipError(400, f"the request is not a {kind.DESCRIPTOR.name}") from None


def _input(tensor: Any, raw: bytes | None) -> Tensor:
    name: str = tensor.name
    check_datatype(name, tensor.datatype)
    datatype: str = tensor.datatype
    shape = check_shape(name, list(tensor.shape))
    if "shared_memory_region" in _parameters(tensor.parameters):
        raise OipError(400, f"input {name!r}: shared memory is not served")
    typed = [field.name for field, _ in tensor.contents.ListFields()]
    if raw is not None:
        if typed:
            raise OipError(
                400, f"input {name!r}: contents with raw_input_contents (one form per request)"
            )
        return Tensor(name, datatype, shape, from_binary(name, datatype, shape, raw))
    return Tensor(name, datatype, shape, _typed(name, datatype, shape, tensor.contents, typed))


def _typed(
    name: str, datatype: str, shape: tuple[int, ...], contents: Any, given: list[str]
) -> Array:
    """The elements of the contents field of ``datatype``, checked against it."""
    if datatype not in _CONTENTS:
        raise OipError(400, f"input {name!r}: {datatype} data comes in raw_input_contents only")
    field, read_as = _CONTENTS[datatype]
    other = [g for g in given if g != field]
    if other:
        raise OipError(400, f"input {name!r}: {datatype} data goes in {field}, not {other[0]}")
    values = getattr(contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise OipError(
            400, f"input {name!r}: {len(values)} elements for shape {list(shape)} ({count})"
        )
    if datatype == "BYTES":
        flat = np.empty(count, dtype=object)
        flat[:] = list(values)
        return flat.reshape(shape)
    array = np.fromiter(values, dtype=read_as, count=count)
    dtype = DATATYPES[datatype]
    if dtype != read_as:  # INT8/16, UINT8/16: in range of the narrower type
        info = np.iinfo(dtype)
        if count and (array.min() < info.min or array.max() > info.max):
            raise OipError(400, f"input {name!r}: {datatype} data must be in range")
    return array.astype(dtype, copy=False).reshape(shape)


def _output(requested: Any) -> RequestedOutput:
    name: str = requested.name
    if "classification" in _parameters(requested.parameters):
        raise OipError(400, f"output {name!r}: the classification extension is not served")
    return RequestedOutput(name)


def _parameters(given: Any) -> Parameters:
    """A parameters map as plain values; one that holds no value is left out."""
    found: Parameters = {}
    for key, parameter in given.items():
        choice = parameter.WhichOneof("parameter_choice")
        if choice is not None:
            found[key] = getattr(parameter, choice)
    return found


def response_to_proto(response: InferResponse) -> Any:
    """The answer as a ``ModelInferResponse``, every output's data in
    ``raw_output_contents``; an OipError(400) for a parameter protobuf cannot hold."""
    message = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version,
        id=response.id or "",
    )
    _set_parameters(message.parameters, response.parameters)
    for output in response.outputs:
        tensor = output.tensor
        message.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        message.raw_output_contents.append(to_binary(tensor.data))
    return message


def _set_parameters(target: Any, parameters: Parameters) -> None:
    for key, value in parameters.items():
        parameter = target[key]
        if isinstance(value, bool):  # before int: a bool is one
            parameter.bool_param = value
        elif isinstance(value, int) and value in _INT64:
            parameter.int64_param = value
        elif isinstance(value, int) and value in _UINT64:
            parameter.uint64_param = value
        elif isinstance(value, float):
            parameter.double_param = value
        elif isinstance(value, str):
            parameter.string_param = value
        else:
            raise OipError(400, f"parameter {key!r}: {value!r} is out of protobuf's range")


def metadata_to_proto(metadata: ModelMetadata) -> Any:
    """A model's metadata as a ``ModelMetadataResponse``."""
    message = pb.ModelMetadataResponse(
        name=metadata.name, versions=metadata.versions, platform=metadata.platform
    )
    for tensors, target in ((metadata.inputs, message.inputs), (metadata.outputs, message.outputs)):
        for t in tensors:
            target.add(name=t.name, datatype=t.datatype, shape=t.shape)
    return message


# --- the client side: a remote model's calls (remote/grpc_transport.py) ---------------------


def request_to_proto(model_name: str, model_version: str | None, request: InferRequest) -> Any:
    """A ``ModelInferRequest`` whose data is typed (each input's in the ``contents`` field of
    its datatype), the form every server reads; FP16, which has no typed field, goes raw."""
    message = pb.ModelInferRequest(
        model_name=model_name, model_version=model_version or "", id=request.id or ""
    )
    _set_parameters(message.parameters, request.parameters)
    raw = any(t.datatype not in _CONTENTS for t in request.inputs)
    for tensor in request.inputs:
        item = message.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        flat = tensor.data.reshape(-1)
        if raw:  # one form per request: all raw when one input must be
            message.raw_input_contents.append(to_binary(tensor.data))
        elif tensor.datatype == "BYTES":
            item.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat
            )
        else:
            getattr(item.contents, _CONTENTS[tensor.datatype][0]).extend(flat.tolist())
    for output in request.outputs or ():
        message.outputs.add(name=output.name)
    return message


def response_from_proto(message: Any) -> InferResponse:
    """A ``ModelInferResponse`` read with the checks a request's tensors get; its data typed
    or raw (``raw_output_contents``, one per output); an OipError when it is not one."""
    raw = message.raw_output_contents
    if raw and len(raw) != len(message.outputs):
        raise OipError(400, f"{len(raw)} raw_output_contents for {len(message.outputs)} outputs")
    outputs = [
        OutputTensor(_input(t, raw[i] if raw else None)) for i, t in enumerate(message.outputs)
    ]
    return InferResponse(message.model_name, message.model_version, outputs, id=message.id or None)


def metadata_from_proto(message: Any) -> ModelMetadata:
    """A ``ModelMetadataResponse`` as the protocol's metadata."""
    return ModelMetadata(
        name=message.name,
        versions=tuple(message.versions),
        platform=message.platform,
        inputs=tuple(_tensor_metadata(t) for t in message.inputs),
        outputs=tuple(_tensor_metadata(t) for t in message.outputs),
    )


def _tensor_metadata(tensor: Any) -> TensorMetadata:
    return TensorMetadata(tensor.name, tensor.datatype, tuple(int(d) for d in tensor.shape))
