"""`python -m bench.seed_runtimes`: the runtimes the seed designs serve, through the service
against the same runtime alone. TensorFlow: Lightbend's wine net (11 → 12 → 8 → 9, a sigmoid
per class) as a frozen graph and as a SavedModel (a tar of its folder); H2O: a GBM and a
multinomial GLM with categorical inputs (trained in the h2o peer environment). Per model,
``service`` is records/s through one service process (Kafka in and out, JSON, binding,
checks), read off the output topic's timestamps; ``alone`` is the runtime's own ``predict``
on in-memory batches of 1,000 records already typed. Then TensorFlow's import: its seconds
and the memory it adds to a process."""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from service.inputs.conversion import typed_batch
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.tools.publishing import publish
from service.wine import WINE_FIELDS, wine_rows

from .h2o_mojo import JAR, PEER
from .h2o_mojo import records as shop_records
from .harness import create_topics, output_rate, preload, serve, uid
from .in_process import engine_rate

BATCH = 1000
# The threads a model gets in the service (server.py: the cores, one worker): the same here.
THREADS = os.cpu_count() or 1
REPO = Path(__file__).resolve().parents[1]


def tensorflow_models(folder: Path) -> dict[str, bytes]:
    """The wine net as a frozen GraphDef and as a SavedModel's folder packed as a tar, built
    as the tests build them (tests/runtimes/tensorflow_models.py)."""
    sys.path.insert(0, str(REPO))
    import tensorflow as tf

    from tests.runtimes.tensorflow_models import frozen_graph, tf1_saved_model

    graph, _ = frozen_graph(tf, "sigmoid")
    tf1_saved_model(tf, "sigmoid", folder / "saved" / "1")
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        archive.add(folder / "saved" / "1", arcname="1")
    return {"TENSORFLOW": graph, "TENSORFLOWSAVED": packed.getvalue(), "wide": wide_graph(tf)}


def wide_graph(tf: Any, width: int = 1024) -> bytes:
    """A frozen graph whose own work dominates: 11 → 1024 → 1024 → 9 (about 2.1 million
    multiply-adds a record), the case where the service should come close to the model."""
    rng = np.random.default_rng(5)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(None, 11), name="x")
        for i, (rows, cols) in enumerate(((11, width), (width, width), (width, 9))):
            kernel = (rng.standard_normal((rows, cols)) / np.sqrt(rows)).astype(np.float32)
            x = tf.linalg.matmul(x / (300.0 if i == 0 else 1.0), tf.constant(kernel))
            x = tf.nn.relu(x) if i < 2 else tf.math.sigmoid(x)
    return bytes(graph.as_graph_def().SerializeToString())


def h2o_models(folder: Path) -> dict[str, bytes]:
    trainer = REPO / "tests" / "peers" / "train_h2o.py"
    python = PEER / "bin" / "python"
    subprocess.run([str(python), "-I", str(trainer), str(folder)], check=True, capture_output=True)
    return {n: (folder / f"{n}.zip").read_bytes() for n in ("gbm_binomial", "glm_multinomial")}


def alone(model_type: str, artifact: bytes, rows: list[dict[str, Any]]) -> float:
    """Records/s of the runtime's predict on typed batches of 1,000, best of three 3 s runs."""
    options = LoadOptions(h2o_genmodel_jar=str(JAR) if JAR else None, intra_op_threads=THREADS)
    inputs = list(WINE_FIELDS) if model_type.startswith("TENSORFLOW") else None
    model = RUNTIMES.get(model_type).load(LoadRequest(artifact, inputs, options=options))
    batches = [
        typed_batch(model.input_schema, rows[i : i + BATCH])
        for i in range(0, len(rows) - BATCH + 1, BATCH)
    ]
    try:
        for batch in batches[:3]:
            model.predict(batch)
        best = 0.0
        for _ in range(3):
            done, i, started = 0, 0, time.perf_counter()
            while time.perf_counter() - started < 3.0:
                model.predict(batches[i % len(batches)])
                done, i = done + BATCH, i + 1
            best = max(best, done / (time.perf_counter() - started))
        return best
    finally:
        model.close()


async def in_process(model_type: str, artifact: bytes, rows: list[dict[str, Any]]) -> float:
    """The service's own path without Kafka (bench/in_process.py)."""
    fields: dict[str, Any] = {"name": "p", "version": 1, "dataType": "seed"}
    descriptor = ModelDescriptor.model_validate(
        {**fields, "modelType": model_type, "data": artifact, **_inputs(model_type)}
    )
    settings = Settings(h2o_genmodel_jar=str(JAR) if JAR else None)
    return await engine_rate(descriptor, rows, settings, THREADS)


def _inputs(model_type: str) -> dict[str, Any]:
    return {"inputs": list(WINE_FIELDS)} if model_type.startswith("TENSORFLOW") else {}


async def through_service(
    bootstrap: str, model_type: str, artifact: bytes, rows: list[dict[str, Any]]
) -> float:
    control, data, output = f"models-{uid()}", f"data-{uid()}", f"out-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, data, output)
    await preload(bootstrap, data, [orjson.dumps({"dataType": "seed", **r}) for r in rows])
    fields: dict[str, Any] = {
        "name": f"seed-{model_type.lower()}",
        "dataType": "seed",
        "modelType": model_type,
        "data": artifact,
    }
    fields.update(_inputs(model_type))
    settings = Settings(bootstrap_servers=bootstrap, control_topic=control)
    await publish(settings, ModelDescriptor.model_validate(fields))
    extra: dict[str, Any] = {"h2o_genmodel_jar": str(JAR)} if JAR else {}
    with serve(
        bootstrap,
        control_topic=control,
        data_topics=[data],
        output_topic=output,
        group_id=f"g-{uid()}",
        **extra,
    ):
        return await output_rate(bootstrap, output, len(rows))


def tensorflow_import() -> dict[str, float]:
    """Seconds to import TensorFlow, and the resident memory it adds (MiB), in a fresh
    process. Read from /proc/self/status (VmRSS), not ru_maxrss, which a process started from
    a larger one (this one, TensorFlow loaded) inherits across exec."""
    probe = (
        "import time, numpy\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "base = rss(); t = time.perf_counter()\n"
        "import tensorflow\n"
        "print(time.perf_counter() - t, rss() - base)\n"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", probe],
            check=True,
            capture_output=True,
            text=True,
            env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
        )
        seconds, mib = (float(v) for v in out.stdout.split())
        runs.append((seconds, mib))
    return {
        "import s": statistics.median(r[0] for r in runs),
        "import MiB": statistics.median(r[1] for r in runs),
    }


async def figures(bootstrap: str, count: int) -> dict[str, float]:
    """``service <model>``, ``alone <model>`` and ``<model> service / alone`` per model, and
    TensorFlow's import figures."""
    wine = list(wine_rows())
    wine_records = [{f: row[f] for f in WINE_FIELDS} for row in wine]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        tensorflow = tensorflow_models(folder)
        models: list[tuple[str, str, bytes, list[dict[str, Any]]]] = [
            ("tensorflow graph", "TENSORFLOW", tensorflow["TENSORFLOW"], wine_records),
            ("tensorflow saved", "TENSORFLOWSAVED", tensorflow["TENSORFLOWSAVED"], wine_records),
            ("tensorflow wide graph", "TENSORFLOW", tensorflow["wide"], wine_records),
        ]
        if JAR is not None:
            shop = shop_records(10_000)
            models += [(f"h2o {n}", "H2O", a, shop) for n, a in h2o_models(folder).items()]
        else:
            print("  (no .peers/h2o: make peers; H2O left out)", flush=True)
        for label, model_type, artifact, rows in models:
            stream = (rows * (count // len(rows) + 1))[:count]
            service = await through_service(bootstrap, model_type, artifact, stream)
            sample = (rows * 10)[:10_000]
            raw = alone(model_type, artifact, sample)
            engine = await in_process(model_type, artifact, sample)
            results[f"service {label}"] = service
            results[f"in-process {label}"] = engine
            results[f"alone {label}"] = raw
            results[f"{label} service / alone"] = service / raw
            results[f"{label} in-process / alone"] = engine / raw
            print(
                f"  {label}: service {service:,.0f} records/s, in process (no Kafka) "
                f"{engine:,.0f}, alone {raw:,.0f}; service / alone {service / raw:.2f}, "
                f"in process / alone {engine / raw:.2f}",
                flush=True,
            )
    results.update({f"tensorflow {k}": v for k, v in tensorflow_import().items()})
    print(
        f"  tensorflow import: {results['tensorflow import s']:.1f} s, "
        f"+{results['tensorflow import MiB']:.0f} MiB",
        flush=True,
    )
    return results


def main() -> None:
    from service.tools.devbroker import DevBroker

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with DevBroker() as broker:
        asyncio.run(figures(broker.bootstrap, count))


if __name__ == "__main__":
    main()
