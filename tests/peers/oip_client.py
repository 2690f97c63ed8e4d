"""Run by the ``oip-clients`` peer environment's Python, never imported by the service's:
one inference through one of other people's Open Inference Protocol clients.

    python -I oip_client.py <client> <target> <model>  < {"rows": [[...11 floats], ...],
                                                          "outputs": ["predict", ...]}

or, instead of ``rows`` (one FP64 tensor ``input-0``), ``"inputs": [{"name", "datatype",
"shape", "data"}, ...]`` and ``"binary": true`` for Triton's binary tensor data in both
directions (tritonclient's default), ``"compression": "gzip"`` (or ``deflate``) for a
compressed request body (triton-http only). ``client`` is triton-http, triton-grpc, kserve-rest or
kserve-grpc; ``target`` is host:port (the HTTP or the gRPC port). Prints ``{output name: [its
data, flattened]}`` (BYTES as text). One client per
process: tritonclient.grpc and kserve both register the protobuf messages of package
``inference``, and the second import in a process fails (duplicate symbol)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np

INPUT = "input-0"


NUMPY = {"BYTES": object, "FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "BOOL": bool}


def arrays(asked: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(name, datatype, array) of each input asked for."""
    if "rows" in asked:
        return [(INPUT, "FP64", np.array(asked["rows"], dtype=np.float64))]
    made = []
    for spec in asked["inputs"]:
        array = np.array(spec["data"], dtype=NUMPY.get(spec["datatype"], np.float64))
        made.append((spec["name"], spec["datatype"], array.reshape(spec["shape"])))
    return made


def plain(values: Any) -> list[Any]:
    flat = values.ravel().tolist()
    return [v.decode() if isinstance(v, bytes) else v for v in flat]


def triton(protocol: str, target: str, model: str, asked: dict[str, Any]) -> Any:
    outputs = list(asked["outputs"])
    # JSON unless asked: MLServer does not speak Triton's binary tensor extension.
    binary = bool(asked.get("binary", False))
    if protocol == "http":
        import tritonclient.http as client  # type: ignore[import-not-found]

        tensors = []
        for name, datatype, array in arrays(asked):
            tensor = client.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary)
            tensors.append(tensor)
        wanted = [client.InferRequestedOutput(name, binary_data=binary) for name in outputs]
    else:
        import tritonclient.grpc as client  # type: ignore[import-not-found]

        tensors = []
        for name, datatype, array in arrays(asked):
            tensor = client.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        wanted = [client.InferRequestedOutput(name) for name in outputs]
    compression = asked.get("compression")  # gzip or deflate: HTTP only, both ways
    extra = (
        {
            "request_compression_algorithm": compression,
            "response_compression_algorithm": compression,
        }
        if compression
        else {}
    )
    result = client.InferenceServerClient(url=target).infer(model, tensors, outputs=wanted, **extra)
    return {name: plain(result.as_numpy(name)) for name in outputs}


async def kserve(protocol: str, target: str, model: str, asked: dict[str, Any]) -> Any:
    from kserve import (  # type: ignore[import-not-found]
        InferenceGRPCClient,
        InferenceRESTClient,
        InferInput,
        InferRequest,
        RESTConfig,
    )
    from kserve.protocol.infer_type import RequestedOutput  # type: ignore[import-not-found]

    outputs = list(asked["outputs"])
    given = arrays(asked)
    tensors = [InferInput(name, list(array.shape), datatype) for name, datatype, array in given]
    wanted = [RequestedOutput(name) for name in outputs]
    if protocol == "rest":
        for tensor, (_, _, array) in zip(tensors, given, strict=True):
            tensor.set_data_from_numpy(array, binary_data=False)
        request = InferRequest(model, tensors, request_outputs=wanted)
        rest = InferenceRESTClient(RESTConfig(protocol="v2"))
        try:
            response = await rest.infer(f"http://{target}", request, model_name=model)
        finally:
            await rest.close()
    else:
        for tensor, (_, _, array) in zip(tensors, given, strict=True):
            tensor.set_data_from_numpy(array)
        request = InferRequest(model, tensors, request_outputs=wanted)
        async with InferenceGRPCClient(url=target) as grpc:
            response = await grpc.infer(request)
    return {o.name: plain(o.as_numpy()) for o in response.outputs}


def main(client: str, target: str, model: str) -> None:
    asked = json.load(sys.stdin)
    family, protocol = client.split("-")
    if family == "triton":
        answer = triton(protocol, target, model, asked)
    else:
        answer = asyncio.run(kserve(protocol, target, model, asked))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
