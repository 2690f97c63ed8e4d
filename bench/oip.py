"""The Open Inference Protocol measured: modelserve's REST infer, one row per request from 8
concurrent clients, in requests/s (the same load generator for every server: bench/load.py).
``python -m bench.oip`` prints modelserve's figures; bench/__main__.py sets them beside
MLServer's, run on the same model, machine and broker."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np
import orjson

from service.tools.devbroker import DevBroker

from .harness import create_topics, serve, uid
from .load import Load, closed_loop, http_post
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
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    from service.wine import wine_arrays

    features, labels = wine_arrays()
    model = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1)
    model.fit(features.astype(np.float64), labels)
    options = {id(model): {"zipmap": False}}
    artifact = to_onnx(model, features[:1].astype(np.float32), options=options, target_opset=17)
    path = folder / "forest.onnx"
    path.write_bytes(artifact.SerializeToString())
    return BenchModel(MODEL, "ONNX", path, [str(c) for c in model.classes_])


async def modelserve_rest(bootstrap: str, model: BenchModel, runs: int = 3) -> list[Load]:
    control = f"models-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await publish_model(bootstrap, control, model)
    with serve(bootstrap, control_topic=control, group_id=f"g-{uid()}") as running:
        await wait_model(running.base_url, model.name)
        return [
            await rest_load(running.base_url, model.name, CLIENTS, SECONDS) for _ in range(runs)
        ]


async def mlserver_rest(runs: int = 3) -> list[Load]:
    """MLServer 1.7.1 (its own environment: ``make peers``) serving the same forest, fitted by
    its own scikit-learn, under the same load."""
    from tests.peers import peer_python, serving_mlserver, train_wine_model

    folder = Path(tempfile.mkdtemp())
    model = train_wine_model(peer_python("mlserver"), folder / "model")
    async with serving_mlserver(model, folder / "server") as peer:
        body = one_row_request("input-0", "FP64")
        return [
            await rest_load(peer.http_url, peer.model_name, CLIENTS, SECONDS, body)
            for _ in range(runs)
        ]


def summary(name: str, loads: list[Load]) -> float:
    rates = [load.rate for load in loads]
    failed = sum(load.failed for load in loads)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"  {name:34s} {statistics.median(rates):>8,.0f} req/s   runs: {runs}; {failed} failed")
    return statistics.median(rates)


async def figures(bootstrap: str, runs: int = 3) -> dict[str, float]:
    """Each server's median requests/s, and the ratios the issue sets (modelserve ≥ 1.5 ×)."""
    model = forest(Path(tempfile.mkdtemp()))
    print(f"Open Inference Protocol, one row per request, {CLIENTS} clients:", flush=True)
    found = {
        "modelserve REST": summary(
            "modelserve REST", await modelserve_rest(bootstrap, model, runs)
        ),
        "MLServer REST": summary("MLServer REST", await mlserver_rest(runs)),
    }
    found["REST: modelserve / MLServer"] = found["modelserve REST"] / found["MLServer REST"]
    print(f"  REST: modelserve / MLServer {found['REST: modelserve / MLServer']:.2f}")
    return found


async def main() -> None:
    async with DevBroker() as broker:
        await figures(broker.bootstrap)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
