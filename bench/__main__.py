"""`python -m bench [--quick]`: every figure of bench/RESULTS.md, measured side by side in one
run on one broker, with medians of repeated runs and the ratios the project tracks."""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from service.tools.devbroker import DevBroker
from service.wine import WINE_FIELDS

from . import learning, oip, pmml_engines, salary_runs, seed_runtimes
from .harness import create_topics, output_rate, preload, process, serve, service_env, uid
from .latency import latency
from .replay import replay_seconds
from .routes import MODES, route_rate
from .service_runs import publish_model, service_rate, wait_serving
from .workload import BenchModel, encode_records, make_models, wine_stream

OUT = Path(__file__).parent / "out"


async def pipe_rate(
    bootstrap: str, data: str, count: int, kind: str, model: Path | None = None
) -> float:
    output = f"out-{uid()}"
    await create_topics(bootstrap, output)
    env = service_env(bootstrap, data_topics=[data], output_topic=output, group_id=f"g-{uid()}")
    args = [sys.executable, "-m", "bench.pipes", kind, "--count", str(count)]
    if model is not None:
        args += ["--model", str(model)]
    with process(args, env):
        return await output_rate(bootstrap, output, count)


def raw_model_rate(
    model: BenchModel, rows: np.ndarray, batch: int = 1000, seconds: float = 2.0
) -> float:
    """The model alone on in-memory batches, as the service calls it (same runtime class)."""
    from service.runtimes.onnx import OnnxModel
    from service.runtimes.pmml import open_pmml

    artifact = model.path.read_bytes()
    runtime: Any = (
        OnnxModel(artifact, list(WINE_FIELDS), model.labels)
        if model.kind == "ONNX"
        else open_pmml(artifact, None)
    )
    if model.kind == "ONNX":
        import onnxruntime as ort

        session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])

        def call(x: np.ndarray) -> None:
            session.run(None, {"X": x.astype(np.float32)})
    else:
        from service.inputs.schema import TypedBatch

        schema = runtime.input_schema

        def call(x: np.ndarray) -> None:
            runtime.predict(TypedBatch.of_matrix(schema, x))

    call(rows[:batch])
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        call(rows[done % (len(rows) - batch) :][:batch])
        done += batch
    return done / (time.perf_counter() - started)


async def request_reply_rate(bootstrap: str, model: BenchModel, requests: int) -> float:
    control = f"models-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await publish_model(bootstrap, control, model)
    data = f"idle-{uid()}"
    await create_topics(bootstrap, data)
    rows = [
        dict(zip(WINE_FIELDS, map(float, r), strict=True)) for r in wine_stream(requests, seed=3)
    ]
    with serve(bootstrap, control_topic=control, data_topics=[data], group_id=f"g-{uid()}") as svc:
        async with httpx.AsyncClient(base_url=svc.base_url) as client:
            await wait_serving(client)
            started = time.perf_counter()
            for row in rows:
                answer = await client.post("/predict/wine", content=orjson.dumps(row))
                assert answer.status_code == 200, answer.text
            return requests / (time.perf_counter() - started)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def run(quick: bool) -> dict[str, Any]:
    repeat = 1 if quick else 3
    count = 20_000 if quick else 100_000
    pmml_count = 5_000 if quick else 30_000
    results: dict[str, Any] = {"repeat": repeat, "count": count}
    models = make_models(Path(tempfile.mkdtemp()) / "models")
    rows = wine_stream(10_000)
    async with DevBroker() as broker:
        bootstrap = broker.bootstrap
        data = f"data-{uid()}"
        await create_topics(bootstrap, data)
        print(f"preloading {count} records ...", flush=True)
        await preload(bootstrap, data, encode_records(wine_stream(count)))

        def log(name: str, value: float) -> None:
            print(f"  {name}: {value:,.0f} records/s", flush=True)

        figures: dict[str, list[float]] = {}
        for _ in range(repeat):
            for name, coroutine in (
                ("bare-pipe", lambda: pipe_rate(bootstrap, data, count, "bare")),
                (
                    "bare-pipe per-record send",
                    lambda: pipe_rate(bootstrap, data, count, "bare-per-record"),
                ),
                (
                    "service small-onnx",
                    lambda: service_rate(bootstrap, data, count, models["small-onnx"]),
                ),
                (
                    "service rf100-onnx",
                    lambda: service_rate(bootstrap, data, count, models["rf100-onnx"]),
                ),
                ("service pmml", lambda: service_rate(bootstrap, data, pmml_count, models["pmml"])),
            ):
                value = await coroutine()
                figures.setdefault(name, []).append(value)
                log(name, value)
            # Routes over copies of the small model, single path alongside (issue 11).
            for mode in MODES:
                name = f"route {mode}"
                value = await route_rate(bootstrap, data, count, models["small-onnx"], mode)
                figures.setdefault(name, []).append(value)
                log(name, value)
        for name in ("small-onnx", "rf100-onnx", "pmml"):
            value = raw_model_rate(models[name], rows)
            figures[f"raw {name}"] = [value]
            log(f"raw {name}", value)
        naive_count = 1000 if quick else 3000
        figures["naive loop"] = [
            await pipe_rate(bootstrap, data, naive_count, "naive", models["small-onnx"].path)
        ]
        log("naive loop", figures["naive loop"][0])
        rr = await request_reply_rate(bootstrap, models["small-onnx"], 500 if quick else 2000)
        figures["request-reply"] = [rr]
        log("request-reply", rr)
        sweep = {}
        for size in (1, 10, 100, 1000):
            # Small batches are slow: a few seconds' worth of records is enough to measure.
            sweep[size] = await service_rate(
                bootstrap, data, min(count, size * 2000), models["small-onnx"], max_batch_size=size
            )
            log(f"service small-onnx, batch {size}", sweep[size])
        results["batch_sweep"] = sweep
        results["latency"] = await latency(
            bootstrap, models["small-onnx"], 2000, 5 if quick else 15
        )
        print(f"  latency at 2000/s: {results['latency']}", flush=True)
        versions = 2_000 if quick else 10_000  # an online learner's control log
        results["replay_seconds"] = await replay_seconds(bootstrap, models["small-onnx"], versions)
        print(f"  restart over {versions:,} versions, s: {results['replay_seconds']:.1f}")
        # Typed records (strings and numbers) through the three runtimes (issue 19).
        for _ in range(repeat):
            for name, value in (
                await salary_runs.salary_figures(bootstrap, count // 2, pmml_count // 4)
            ).items():
                figures.setdefault(name, []).append(value)
        # Request-reply through the Open Inference Protocol, modelserve beside MLServer.
        results["oip"] = await oip.figures(bootstrap, repeat)
        # The seeds' runtimes (TensorFlow, H2O MOJOs): through the service against alone.
        results["seed_runtimes"] = await seed_runtimes.figures(bootstrap, count // 2)
    results["pmml_engines"] = pmml_engines.run()  # in-memory batches, no broker
    results["learning"] = learning.run(OUT)  # in memory; plots out/learning.png
    results["figures"] = {k: {"median": median(v), "runs": v} for k, v in figures.items()}
    m = {k: v["median"] for k, v in results["figures"].items()}
    results["ratios"] = {
        "service small-onnx / bare pipe": m["service small-onnx"] / m["bare-pipe"],
        "service small-onnx / bare pipe, per-record send": (
            m["service small-onnx"] / m["bare-pipe per-record send"]
        ),
        "service rf100-onnx / raw rf100-onnx": m["service rf100-onnx"] / m["raw rf100-onnx"],
        "service pmml / raw pmml": m["service pmml"] / m["raw pmml"],
        "service small-onnx / naive loop": m["service small-onnx"] / m["naive loop"],
        "service small-onnx / request-reply": m["service small-onnx"] / m["request-reply"],
        **{
            f"route {mode} / route single": m[f"route {mode}"] / m["route single"]
            for mode in MODES
            if mode != "single"
        },
        **salary_runs.ratios(m),
        **{k: v for k, v in results["oip"].items() if "/" in k},
        **{k: v for k, v in results["seed_runtimes"].items() if "/" in k},
    }
    return results


def plot(sweep: dict[int, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(sweep)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [sweep[s] for s in sizes], marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("MAX_BATCH_SIZE (records per model call, at most)")
    ax.set_ylabel("records/s, end to end")
    ax.set_title("Effect of batching (small ONNX model)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller counts, one repetition")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick))
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": __import__("os").cpu_count(),
        "date": datetime.now(UTC).isoformat(),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_bytes(
        orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    plot(results["batch_sweep"], OUT / "batching.png")
    print("\nmedians (records/s):")
    for name, value in results["figures"].items():
        runs = ", ".join(f"{v:,.0f}" for v in value["runs"])
        print(f"  {name:28s} {value['median']:>12,.0f}   runs: {runs}")
    print("ratios:")
    for name, value in results["ratios"].items():
        print(f"  {name:38s} {value:8.2f}")
    print("\n".join(results["pmml_engines"]))
    print(f"restart over an online learner's versions, s: {results.get('replay_seconds')}")
    print("online learning under drift (windowed prequential accuracy):")
    for name, figures in results["learning"]["accuracy"].items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        print(f"  {name:42s} {shown}")
    for name, speed in results["learning"]["learned per second"].items():
        print(f"  {name} learns {speed:,.0f} records/s (one at a time)")
    print(f"written: {OUT / 'results.json'}, {OUT / 'batching.png'}")


if __name__ == "__main__":
    main()
