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
import orjson

from service.tools.devbroker import DevBroker

from .harness import create_topics, serve, uid
from .load import Load, closed_loop, http_post
from .service_runs import publish_model
from .workload import BenchModel, wine_stream

CLIENTS = 8
SECONDS = 10.0
MODEL = "wine-oip"


def one_row_request(tensor: str = "X") -> bytes:
    row = wine_stream(1, seed=3)[0]
    return orjson.dumps(
        {"inputs": [{"name": tensor, "datatype": "FP32", "shape": [1, 11], "data": row.tolist()}]}
    )


async def rest_load(base_url: str, model: str, clients: int, seconds: float) -> Load:
    url = httpx.URL(base_url)
    connect = http_post(url.host, url.port or 80, f"/v2/models/{model}/infer", one_row_request())
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


def forest(folder: Path, trees: int = 50) -> BenchModel:
    """The wine forest every server of the comparison serves (trained the same way)."""
    from service.wine import train_wine_onnx

    artifact, labels = train_wine_onnx("forest", trees=trees, max_depth=None)
    path = folder / "forest.onnx"
    path.write_bytes(artifact)
    return BenchModel(MODEL, "ONNX", path, labels)


async def modelserve_rest(bootstrap: str, model: BenchModel, runs: int = 3) -> list[Load]:
    control = f"models-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await publish_model(bootstrap, control, model)
    with serve(bootstrap, control_topic=control, group_id=f"g-{uid()}") as running:
        await wait_model(running.base_url, model.name)
        return [
            await rest_load(running.base_url, model.name, CLIENTS, SECONDS) for _ in range(runs)
        ]


async def main() -> None:
    async with DevBroker() as broker:
        scratch = tempfile.mkdtemp()
        model = forest(Path(scratch))
        loads = await modelserve_rest(broker.bootstrap, model)
    rates = [load.rate for load in loads]
    failed = sum(load.failed for load in loads)
    print(
        f"modelserve REST infer, {CLIENTS} clients, 1 row: "
        f"median {statistics.median(rates):,.0f} req/s "
        f"(runs {', '.join(f'{r:,.0f}' for r in rates)}; {failed} failed)"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
