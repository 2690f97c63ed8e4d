"""The protocol's JSON: an inference request read from a body (with the binary tensor data
extension: a JSON header of ``Inference-Header-Content-Length`` bytes, then each input that
says ``binary_data_size`` in order) and a response written back the same way. Kafka's records
carry the same JSON, without binary data."""

from __future__ import annotations

from typing import Any

import orjson

from service.oip.datatypes import check_datatype, check_shape, from_binary, from_json, to_binary
from service.oip.datatypes import to_json as data_to_json
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
from service.untrusted import UnreadableJson, loads

MAX_INPUTS = 1024


def read_request(body: bytes, header_length: int | None, max_json_depth: int) -> InferRequest:
    """The request in ``body``; ``header_length``: the JSON part's length when the body
    carries binary data after it."""
    document, binary = _json_and_binary(body, header_length, max_json_depth, "request")
    return request_of(document, binary)


def _json_and_binary(
    body: bytes, header_length: int | None, max_json_depth: int, what: str
) -> tuple[Any, memoryview]:
    """A body's JSON document, and the binary data after it (Triton's extension)."""
    if header_length is not None and not 0 <= header_length <= len(body):
        raise OipError(400, f"Inference-Header-Content-Length {header_length} is not in the body")
    text = body if header_length is None else body[:header_length]
    try:
        return loads(text, max_json_depth), memoryview(body)[len(text) :]
    except UnreadableJson as exc:
        raise OipError(400, f"the {what} is {exc}") from None


def request_of(document: Any, binary: memoryview | None = None) -> InferRequest:
    if not isinstance(document, dict):
        raise OipError(400, "the request must be a JSON object")
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise OipError(400, "the request must have a list of inputs")
    if len(raw_inputs) > MAX_INPUTS:
        raise OipError(400, f"at most {MAX_INPUTS} inputs")
    parameters = _parameters(document.get("parameters"), "the request")
    at = 0
    inputs = []
    for raw in raw_inputs:
        tensor, used = _input(raw, binary[at:] if binary is not None else None)
        inputs.append(tensor)
        at += used
    if binary is not None and at != len(binary):
        raise OipError(400, f"{len(binary) - at} bytes of binary data no input claims")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise OipError(400, "the request's id must be a string")
    return InferRequest(
        inputs,
        id=request_id,
        outputs=_outputs(document.get("outputs")),
        parameters=parameters,
        binary_outputs=parameters.get("binary_data_output") is True,
    )


def _input(raw: Any, binary: memoryview | None) -> tuple[Tensor, int]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise OipError(400, "each input must be an object with a name")
    name = raw["name"]
    check_datatype(name, raw.get("datatype"))
    datatype: str = raw["datatype"]
    shape = check_shape(name, raw.get("shape"))
    parameters = _parameters(raw.get("parameters"), f"input {name!r}")
    size = parameters.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise OipError(400, f"input {name!r}: binary_data_size must be a whole number")
        if binary is None or size > len(binary):
            raise OipError(400, f"input {name!r}: {size} bytes of binary data are not there")
        return Tensor(
            name, datatype, shape, from_binary(name, datatype, shape, binary[:size])
        ), size
    if "shared_memory_region" in parameters:
        raise OipError(400, f"input {name!r}: shared memory is not served")
    if "data" not in raw:
        raise OipError(400, f"input {name!r} has no data")
    return Tensor(name, datatype, shape, from_json(name, datatype, shape, raw["data"])), 0


def _outputs(raw: Any) -> list[RequestedOutput] | None:
    """The outputs a request names; None (every output) when it names none: ``outputs``
    absent or an empty list, as a gRPC request's empty ``outputs`` is (proto3 cannot tell the
    two apart) and as Triton and MLServer read it."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise OipError(400, "outputs must be a list")
    outputs = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise OipError(400, "each requested output must be an object with a name")
        parameters = _parameters(item.get("parameters"), f"output {item['name']!r}")
        if "classification" in parameters:
            raise OipError(
                400, f"output {item['name']!r}: the classification extension is not served"
            )
        binary = parameters.get("binary_data")
        outputs.append(RequestedOutput(item["name"], binary if isinstance(binary, bool) else None))
    return outputs


def _parameters(raw: Any, where: str) -> Parameters:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(v, str | int | float | bool) for v in raw.values()
    ):
        raise OipError(
            400, f"{where}: parameters must be an object of strings, numbers or booleans"
        )
    return raw


def response_body(response: InferResponse) -> tuple[bytes, int | None]:
    """The response's body, and the JSON part's length when binary data follows it."""
    outputs = []
    blobs = []
    for output in response.outputs:
        tensor = output.tensor
        item: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if output.binary:
            blob = to_binary(tensor.data)
            item["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            item["data"] = data_to_json(tensor.data)
        outputs.append(item)
    document: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
    }
    if response.id is not None:
        document["id"] = response.id
    if response.parameters:
        document["parameters"] = response.parameters
    document["outputs"] = outputs
    text = orjson.dumps(document)
    if not blobs:
        return text, None
    return b"".join([text, *blobs]), len(text)


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


# --- the client side: a remote model's calls (remote/rest.py) ---------------------


def request_body(request: InferRequest) -> bytes:
    """A request as the protocol's JSON, each input's data typed as its datatype says (numbers
    as numbers, BYTES as text), and the outputs asked for by name when it names them."""
    document: dict[str, Any] = {}
    if request.id is not None:
        document["id"] = request.id
    if request.parameters:
        document["parameters"] = request.parameters
    document["inputs"] = [
        {
            "name": t.name,
            "datatype": t.datatype,
            "shape": list(t.shape),
            "data": data_to_json(t.data),
        }
        for t in request.inputs
    ]
    if request.outputs is not None:
        document["outputs"] = [{"name": o.name} for o in request.outputs]
    # NaN (a missing number) has no JSON: orjson writes null, which the server refuses.
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def read_response(body: bytes, header_length: int | None, max_json_depth: int) -> InferResponse:
    """A server's answer read as the server side reads requests: the same tensor checks, so
    an answer is as strictly typed as a request; an OipError when it is not one."""
    document, binary = _json_and_binary(body, header_length, max_json_depth, "answer")
    if not isinstance(document, dict) or not isinstance(document.get("outputs"), list):
        raise OipError(400, "the answer is not an object with a list of outputs")
    if len(document["outputs"]) > MAX_INPUTS:
        raise OipError(400, f"the answer has more than {MAX_INPUTS} outputs")
    at = 0
    outputs = []
    for raw in document["outputs"]:
        tensor, used = _input(raw, binary[at:] if header_length is not None else None)
        outputs.append(OutputTensor(tensor))
        at += used
    name, version = document.get("model_name"), document.get("model_version")
    return InferResponse(
        name if isinstance(name, str) else "",
        version if isinstance(version, str) else "",
        outputs,
        id=document["id"] if isinstance(document.get("id"), str) else None,
    )


def metadata_of(document: Any) -> ModelMetadata:
    """A model's metadata (``GET /v2/models/{name}``) as a server gave it; an OipError when
    it is not metadata. A dimension of -1 is any size."""
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise OipError(400, "the metadata is not an object with a name")
    versions = document.get("versions") or []
    platform = document.get("platform") or ""
    if not isinstance(versions, list) or not isinstance(platform, str):
        raise OipError(400, "the metadata's versions or platform are not what the protocol says")
    return ModelMetadata(
        document["name"],
        tuple(str(v) for v in versions),
        platform,
        _tensor_metadata(document.get("inputs"), "inputs"),
        _tensor_metadata(document.get("outputs"), "outputs"),
    )


def _tensor_metadata(raw: Any, where: str) -> tuple[TensorMetadata, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_INPUTS:
        raise OipError(400, f"the metadata's {where} are not a list")
    found = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise OipError(400, f"each of the metadata's {where} must have a name")
        datatype, shape = item.get("datatype"), item.get("shape")
        if not isinstance(datatype, str) or not isinstance(shape, list):
            raise OipError(400, f"{where[:-1]} {item['name']!r}: no datatype or shape")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in shape):
            raise OipError(400, f"{where[:-1]} {item['name']!r}: shape {shape!r} is not one")
        found.append(TensorMetadata(item["name"], datatype, tuple(shape)))
    return tuple(found)
