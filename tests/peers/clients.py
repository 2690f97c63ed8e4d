"""Other people's Open Inference Protocol clients (oip_client.py, in the ``oip-clients`` peer
environment), run against a live server: MLServer here, modelserve in its own tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.peers.envs import peer_python

OIP_CLIENT = Path(__file__).with_name("oip_client.py")
CLIENTS = ("triton-http", "triton-grpc", "kserve-rest", "kserve-grpc")


async def infer_with(
    client: str,
    target: str,
    model: str,
    rows: Sequence[Sequence[float]] | None = None,
    outputs: Sequence[str] = ("predict",),
    timeout_s: float = 60.0,
    inputs: Sequence[dict[str, Any]] | None = None,
    binary: bool = False,
    compression: str | None = None,
) -> dict[str, list[Any]]:
    """One inference through ``client`` (one of CLIENTS) at ``target`` (host:port, the HTTP
    or gRPC one as the client speaks): each output's data, flattened. A subprocess of the
    event loop, so that a server running in this loop (a test's modelserve) can answer it.
    ``rows`` make one FP64 tensor ``input-0``; ``inputs`` (``{name, datatype, shape, data}``)
    name the tensors; ``binary``: Triton's binary tensor data, in and out; ``compression``:
    gzip or deflate request bodies (triton-http)."""
    process = await asyncio.create_subprocess_exec(
        str(peer_python("oip-clients")),
        "-I",  # the peer's own packages only
        str(OIP_CLIENT),
        client,
        target,
        model,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    tensors: dict[str, Any] = (
        {"inputs": list(inputs)} if inputs is not None else {"rows": [list(r) for r in rows or ()]}
    )
    asked = json.dumps(
        {**tensors, "outputs": list(outputs), "binary": binary, "compression": compression}
    ).encode()
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(asked), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{client} failed: {stderr.decode(errors='replace')[-3000:]}")
    answer: dict[str, list[Any]] = json.loads(stdout)
    return answer
