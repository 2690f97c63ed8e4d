"""Run by the ``oip-clients`` peer environment's Python, never imported by the service's:
one inference through one of other people's Open Inference Protocol clients.

    python -I oip_client.py <client> <target> <model>  < {"rows": [[...11 floats], ...],
                                                          "outputs": ["predict", ...]}

``client`` is triton-http, triton-grpc, kserve-rest or kserve-grpc; ``target`` is host:port
(the HTTP or the gRPC port). Prints ``{output name: [its data, flattened]}``. One client per
process: tritonclient.grpc and kserve both register the protobuf messages of package
``inference``, and the second import in a process fails (duplicate symbol)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np

INPUT = "input-0"


def triton(protocol: str, target: str, model: str, rows: Any, outputs: list[str]) -> Any:
    if protocol == "http":
        import tritonclient.http as client  # type: ignore[import-not-found]

        tensor = client.InferInput(INPUT, list(rows.shape), "FP64")
        # JSON, not Triton's binary tensor extension, which MLServer does not speak.
        tensor.set_data_from_numpy(rows, binary_data=False)
        wanted = [client.InferRequestedOutput(name, binary_data=False) for name in outputs]
    else:
        import tritonclient.grpc as client  # type: ignore[import-not-found]

        tensor = client.InferInput(INPUT, list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows)
        wanted = [client.InferRequestedOutput(name) for name in outputs]
    result = client.InferenceServerClient(url=target).infer(model, [tensor], outputs=wanted)
    return {name: result.as_numpy(name).ravel().tolist() for name in outputs}


async def kserve(protocol: str, target: str, model: str, rows: Any, outputs: list[str]) -> Any:
    from kserve import (  # type: ignore[import-not-found]
        InferenceGRPCClient,
        InferenceRESTClient,
        InferInput,
        InferRequest,
        RESTConfig,
    )
    from kserve.protocol.infer_type import RequestedOutput  # type: ignore[import-not-found]

    tensor = InferInput(INPUT, list(rows.shape), "FP64")
    wanted = [RequestedOutput(name) for name in outputs]
    if protocol == "rest":
        tensor.set_data_from_numpy(rows, binary_data=False)
        request = InferRequest(model, [tensor], request_outputs=wanted)
        rest = InferenceRESTClient(RESTConfig(protocol="v2"))
        try:
            response = await rest.infer(f"http://{target}", request, model_name=model)
        finally:
            await rest.close()
    else:
        tensor.set_data_from_numpy(rows)
        request = InferRequest(model, [tensor], request_outputs=wanted)
        async with InferenceGRPCClient(url=target) as grpc:
            response = await grpc.infer(request)
    return {o.name: o.as_numpy().ravel().tolist() for o in response.outputs}


def main(client: str, target: str, model: str) -> None:
    asked = json.load(sys.stdin)
    rows = np.array(asked["rows"], dtype=np.float64)
    outputs = list(asked["outputs"])
    family, protocol = client.split("-")
    if family == "triton":
        answer = triton(protocol, target, model, rows, outputs)
    else:
        answer = asyncio.run(kserve(protocol, target, model, rows, outputs))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
