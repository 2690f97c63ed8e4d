"""What one port per container costs: ``python -m bench.deployment`` runs the service with one
worker (it answers HTTP itself) and with ``WORKERS=2`` (the supervisor answers, merging its
workers' figures or passing requests to them over Unix sockets), alternating, three rounds,
and prints medians and ratios: request-reply ``POST /predict`` one at a time and 8 at once,
and the time to answer ``/stats``, ``/state/wine``, ``/metrics`` and ``/cluster``."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from service.tools.devbroker import DevBroker
from service.wine import WINE_FIELDS

from .harness import create_topics, serve, uid
from .service_runs import publish_model
from .workload import BenchModel, make_models, wine_stream

CONCURRENCY = 8
READS = ("/stats", "/state/wine", "/metrics", "/cluster")


async def serving_everywhere(client: httpx.AsyncClient, workers: int) -> None:
    """Until every worker serves the model (under a supervisor, each replays the topic)."""
    for _ in range(600):
        answer = await client.get("/state/wine")
        parts = answer.json().get("workers", [{"name": "itself"}]) if answer.is_success else []
        if len(parts) == workers and all("name" in w for w in parts):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("model never served by every worker")


async def predict_rate(client: httpx.AsyncClient, rows: list[bytes], concurrency: int) -> float:
    queue = list(rows)

    async def one_client() -> None:
        while queue:
            answer = await client.post("/predict/wine", content=queue.pop())
            assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return len(rows) / (time.perf_counter() - started)


async def read_ms(client: httpx.AsyncClient, path: str, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        assert (await client.get(path)).status_code == 200, path
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


async def one_round(
    bootstrap: str, model: BenchModel, workers: int, requests: int
) -> dict[str, float]:
    control, data = f"models-{uid()}", f"idle-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, data)
    await publish_model(bootstrap, control, model)
    rows = [
        orjson.dumps(dict(zip(WINE_FIELDS, map(float, r), strict=True)))
        for r in wine_stream(requests, seed=5)
    ]
    figures: dict[str, float] = {}
    with serve(
        bootstrap,
        control_topic=control,
        data_topics=[data],
        group_id=f"g-{uid()}",
        stats_topic=f"stats-{uid()}",
        workers=workers,
    ) as svc:
        async with httpx.AsyncClient(base_url=svc.base_url, timeout=30) as client:
            await serving_everywhere(client, workers)
            await predict_rate(client, rows[:200], 1)  # warm-up
            figures["predict, 1 at a time (req/s)"] = await predict_rate(client, rows, 1)
            figures[f"predict, {CONCURRENCY} at once (req/s)"] = await predict_rate(
                client, rows, CONCURRENCY
            )
            for path in READS:
                figures[f"GET {path} (ms)"] = await read_ms(client, path, 100)
    return figures


async def run(rounds: int, requests: int) -> list[str]:
    model = make_models(Path(tempfile.mkdtemp()) / "models")["small-onnx"]
    runs: dict[tuple[str, int], list[float]] = {}
    async with DevBroker() as broker:
        for _ in range(rounds):
            for workers in (1, 2):
                figures = await one_round(broker.bootstrap, model, workers, requests)
                for name, value in figures.items():
                    runs.setdefault((name, workers), []).append(value)
                print(f"  workers={workers}: {figures}", flush=True)
    names = list(dict.fromkeys(name for name, _ in runs))
    lines = [f"medians of {rounds}; one worker answering itself vs a supervisor over two"]
    for name in names:
        alone, behind = (statistics.median(runs[(name, w)]) for w in (1, 2))
        lines.append(
            f"  {name:32s} 1 worker {alone:9,.1f}   WORKERS=2 {behind:9,.1f}"
            f"   ratio {behind / alone:5.2f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    for line in asyncio.run(run(args.rounds, args.requests)):
        print(line)


if __name__ == "__main__":
    main()
