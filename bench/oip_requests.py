"""Request-reply through the Open Inference Protocol measured: REST infer and gRPC ModelInfer,
one row per request from 8 closed-loop clients, in requests/s, on modelserve and on MLServer
1.7.1 (its own environment) serving the same forest (the same load generator for both:
bench/load.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from service.tools.devbroker import free_port

from .harness import create_topics, serve, uid
from .load import Call, Connect, Load, closed_loop, http_post
from .service_runs import publish_model
from .workload import BenchModel, wine_stream

CLIENTS = 8
SECONDS = 10.0
MODEL = "wine-oip"


def one_row_request(tensor: str = "X", datatype: str = "FP32") -> bytes:
    """A JSON infer request of one wine row (MLServer's scikit-learn runtime takes any tensor
    name; modelserve's skl2onnx model takes ``X``)."""
    row = wine_stream(1, seed=3)[0]
    return orjson.dumps(
        {"inputs": [{"name": tensor, "datatype": datatype, "shape": [1, 11], "data": row.tolist()}]}
    )


async def rest_load(
    base_url: str, model: str, clients: int, seconds: float, body: bytes | None = None
) -> Load:
    url = httpx.URL(base_url)
    path = f"/v2/models/{model}/infer"
    connect = http_post(url.host, url.port or 80, path, body or one_row_request())
    return await closed_loop(connect, clients, seconds)


def grpc_infer(target: str, model: str, tensor: str = "X", datatype: str = "FP32") -> Connect:
    """A ``connect`` for ``closed_loop``: one gRPC channel (a connection of its own) calling
    ModelInfer with one wine row as raw little-endian data, as tritonclient sends it."""
    import grpc

    from service.proto import open_inference_grpc_pb2 as pb
    from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub

    row = wine_stream(1, seed=3).astype("<f4" if datatype == "FP32" else "<f8")
    request = pb.ModelInferRequest(
        model_name=model,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(name=tensor, datatype=datatype, shape=[1, 11])
        ],
        raw_input_contents=[row.tobytes()],
    )

    async def connect() -> Call:
        channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        stub = GRPCInferenceServiceStub(channel)

        async def call() -> bool:
            try:
                await stub.ModelInfer(request)
            except grpc.aio.AioRpcError:
                return False
            return True

        return call

    return connect


async def wait_model(base_url: str, model: str, timeout_s: float = 120) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        for _ in range(int(timeout_s * 10)):
            try:
                if (await client.get(f"/v2/models/{model}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{model} never became ready at {base_url}")


def forest(folder: Path) -> BenchModel:
    """The wine forest every server of the comparison serves, trained as MLServer's is
    (tests/peers/train_wine.py: 50 fully grown trees, random_state 0, on every row), with
    this environment's scikit-learn, and exported by skl2onnx."""
    from sklearn.ensemble import RandomForestClassifier

    return _exported(RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1), folder)


def linear(folder: Path) -> BenchModel:
    """The standardised logistic regression of train_wine.py's ``linear``: a model that costs
    either server a fraction of its per-request work, so the ratio is the servers'."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _exported(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), folder)


def _exported(model: Any, folder: Path) -> BenchModel:
    from skl2onnx import to_onnx

    from service.wine import wine_arrays

    features, labels = wine_arrays()
    model.fit(features.astype(np.float64), labels)
    artifact = to_onnx(
        model, features[:1].astype(np.float32), options={"zipmap": False}, target_opset=17
    )
    path = folder / f"{type(model).__name__.lower()}.onnx"
    path.write_bytes(artifact.SerializeToString())
    return BenchModel(MODEL, "ONNX", path, [str(c) for c in model.classes_])


async def modelserve_requests(
    bootstrap: str, model: BenchModel, runs: int = 3
) -> tuple[list[Load], list[Load]]:
    """REST and gRPC loads on one modelserve process."""
    control = f"models-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await publish_model(bootstrap, control, model)
    grpc_port = free_port()
    with serve(
        bootstrap, control_topic=control, group_id=f"g-{uid()}", grpc_port=grpc_port
    ) as running:
        await wait_model(running.base_url, model.name)
        rest = [
            await rest_load(running.base_url, model.name, CLIENTS, SECONDS) for _ in range(runs)
        ]
        connect = grpc_infer(f"127.0.0.1:{grpc_port}", model.name)
        grpc = [await closed_loop(connect, CLIENTS, SECONDS) for _ in range(runs)]
        return rest, grpc


async def mlserver_requests(runs: int = 3, kind: str = "forest") -> tuple[list[Load], list[Load]]:
    """MLServer 1.7.1 (its own environment: ``make peers``) serving the same model (``forest``
    or ``linear``), fitted by its own scikit-learn, under the same loads."""
    from tests.peers import peer_python, serving_mlserver, train_wine_model

    folder = Path(tempfile.mkdtemp())
    model = train_wine_model(peer_python("mlserver"), folder / "model", kind=kind)
    async with serving_mlserver(model, folder / "server") as peer:
        body = one_row_request("input-0", "FP64")
        rest = [
            await rest_load(peer.http_url, peer.model_name, CLIENTS, SECONDS, body)
            for _ in range(runs)
        ]
        connect = grpc_infer(peer.grpc_target, peer.model_name, "input-0", "FP64")
        grpc = [await closed_loop(connect, CLIENTS, SECONDS) for _ in range(runs)]
        return rest, grpc
