"""A replica's restart over a long control log: time to ready of the service, as its own
process, over N versions of one small ONNX model (what an online learner leaves behind),
published before it starts. ``python -m bench.replay [--versions N] [--baseline CHECKOUT]``;
the baseline, when given, is timed on the same log (its own topic) for comparison."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from service.serving.descriptor import ModelDescriptor
from service.tools.devbroker import DevBroker
from service.wine import WINE_FIELDS, train_wine_onnx

from .harness import create_topics, preload, serve, uid
from .workload import BenchModel


async def publish_versions(bootstrap: str, control: str, model: BenchModel, versions: int) -> None:
    """``versions`` copies of one descriptor, its version left to the service (1, 2, ...)."""
    value = ModelDescriptor.model_validate(
        {
            "name": model.name,
            "dataType": "wine",
            "modelType": model.kind,
            "data": model.path.read_bytes(),
            "labels": model.labels,
            "inputs": list(WINE_FIELDS),
        }
    ).to_json()
    await preload(bootstrap, control, [value] * versions, key=model.name.encode())


async def replay_seconds(
    bootstrap: str, model: BenchModel, versions: int = 10_000, tree: Path | None = None
) -> float:
    """Seconds from the service's process start to /health/ready, over ``versions`` versions
    of ``model`` on a fresh control topic (from the checkout at ``tree`` when given)."""
    control, data = f"models-{uid()}", f"idle-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, data)
    await publish_versions(bootstrap, control, model, versions)
    started = time.perf_counter()
    with serve(
        bootstrap, tree, control_topic=control, data_topics=[data], group_id=f"g-{uid()}"
    ) as svc:
        seconds = time.perf_counter() - started
        async with httpx.AsyncClient(base_url=svc.base_url) as client:
            info = (await client.get(f"/models/{model.name}")).json()
    # Ready means the whole log was applied: the last version serves.
    assert (info["version"], info["status"]) == (versions, "serving"), info
    return seconds


def small_model(folder: Path) -> BenchModel:
    artifact, labels = train_wine_onnx("logistic")
    path = folder / "small.onnx"
    path.write_bytes(artifact)
    return BenchModel("small-onnx", "ONNX", path, labels)


async def run(versions: int, baseline: Path | None) -> None:
    model = small_model(Path(tempfile.mkdtemp()))
    trees = {"this checkout": None} | ({f"baseline {baseline}": baseline} if baseline else {})
    async with DevBroker() as broker:
        for side, tree in trees.items():
            for n in (1, versions):  # one version: the start-up alone, for scale
                seconds = await replay_seconds(broker.bootstrap, model, n, tree)
                print(f"  {side}: restart over {n:,} versions: {seconds:.1f} s to ready")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay")
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--baseline", type=Path, help="a checkout to time on the same log")
    args = parser.parse_args()
    asyncio.run(run(args.versions, args.baseline))


if __name__ == "__main__":
    main()
