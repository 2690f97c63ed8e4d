"""`python -m bench.h2o_mojo`: H2O MOJOs (trained in the ``h2o`` peer environment,
tests/peers/train_h2o.py) scored by the service's H2O runtime on in-memory batches of 1,000
rows: the runtime alone (a ready typed batch, one JVM call per batch through the shipped
BatchScorer), the service's own path in process (JSON records decoded, bound, converted,
scored, checked and written: the Engine without Kafka) and the ratio of the two; then the
alternative the runtime does not take, genmodel's EasyPredictModelWrapper called through
JPype row by row, and genmodel's own CLI (PredictCsv) on a CSV of the same rows, a JVM of its
own included. Each figure is the best of a few 3-second runs after a warm-up (the JIT)."""

from __future__ import annotations

import asyncio
import csv
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from service.inputs.conversion import typed_batch
from service.runtimes.h2o_mojo import H2oMojoModel

from .in_process import engine_rate

REPO = Path(__file__).resolve().parents[1]
PEER = REPO / ".peers" / "h2o"
JAR = next(iter(PEER.glob("lib/python3*/site-packages/h2o/backend/bin/h2o.jar")), None)
BATCH = 1000
MODELS = ("gbm_binomial", "glm_multinomial", "gbm_regression")
DATA_TYPE = "shop"


def records(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "x1": rng.gauss(0, 1),
            "x2": rng.uniform(-2, 2),
            "color": rng.choice(["red", "green", "blue", "purple"]),
            "size": rng.choice(["S", "M", "L", "XL"]),
        }
        for _ in range(n)
    ]


def rate(call: Callable[[int], Any], batches: int) -> float:
    """Records/s of ``call(i)`` (batch i of 1,000), the best of three 3-second runs."""
    for i in range(30):
        call(i % batches)
    best = 0.0
    for _ in range(3):
        done, started, i = 0, time.perf_counter(), 0
        while time.perf_counter() - started < 3.0:
            call(i % batches)
            done, i = done + BATCH, i + 1
        best = max(best, done / (time.perf_counter() - started))
    return best


def alone(model: H2oMojoModel, rows: list[dict[str, Any]]) -> float:
    batch = typed_batch(model.input_schema, rows)
    parts = [batch.take(np.arange(s, s + BATCH)) for s in range(0, len(rows), BATCH)]
    return rate(lambda i: model.predict(parts[i]), len(parts))


def per_row(mojo: bytes, rows: list[dict[str, Any]]) -> float:
    """EasyPredictModelWrapper through JPype, one RowData and one predict call per row."""
    import jpype

    from service.runtimes.h2o_genmodel import scorer_class

    assert JAR is not None
    scorer_type, loader = scorer_class(JAR)
    model = scorer_type(jpype.JArray(jpype.JByte)(mojo)).model()
    wrapper_type = jpype.JClass("hex.genmodel.easy.EasyPredictModelWrapper", loader=loader)
    row_type = jpype.JClass("hex.genmodel.easy.RowData", loader=loader)
    config = wrapper_type.Config().setModel(model).setConvertUnknownCategoricalLevelsToNa(True)
    wrapper = wrapper_type(config)

    def call(i: int) -> None:
        for row in rows[i * BATCH : (i + 1) * BATCH]:
            data = row_type()
            for key, value in row.items():
                data.put(key, jpype.JDouble(value) if isinstance(value, float) else value)
            p = wrapper.predictBinomial(data)
            _ = (p.labelIndex, list(p.classProbabilities))

    return rate(call, len(rows) // BATCH)


def in_process(mojo: bytes, rows: list[dict[str, Any]]) -> float:
    from service.serving.descriptor import ModelDescriptor
    from service.settings import Settings

    fields = {"name": "h", "version": 1, "dataType": DATA_TYPE, "modelType": "H2O"}
    descriptor = ModelDescriptor.model_validate({**fields, "data": mojo})
    return asyncio.run(engine_rate(descriptor, rows, Settings(h2o_genmodel_jar=str(JAR))))


def predict_csv(mojo: Path, rows: list[dict[str, Any]], folder: Path) -> tuple[float, float]:
    """genmodel's CLI on the rows as a CSV: (records/s including its JVM's start, seconds)."""
    table = folder / "rows.csv"
    with table.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    started = time.perf_counter()
    subprocess.run(
        ["java", "-cp", str(JAR), "hex.genmodel.tools.PredictCsv", "--mojo", str(mojo),
         "--input", str(table), "--output", str(folder / "out.csv"), "--decimal"],
        check=True, capture_output=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return len(rows) / seconds, seconds


def main() -> None:
    if JAR is None:
        sys.exit("no .peers/h2o: run `peers/install h2o` (make peers)")
    rows = records(10_000)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        trainer = REPO / "tests" / "peers" / "train_h2o.py"
        subprocess.run([str(PEER / "bin" / "python"), "-I", str(trainer), name], check=True,
                       capture_output=True)  # fmt: skip
        for kind in MODELS:
            mojo = (folder / f"{kind}.zip").read_bytes()
            model = H2oMojoModel(mojo, jar=str(JAR))
            runtime = alone(model, rows)
            service = in_process(mojo, rows)
            print(
                f"{kind}: runtime alone {runtime:,.0f} records/s, service path in process "
                f"{service:,.0f} records/s, ratio {service / runtime:.2f}",
                flush=True,
            )
            model.close()
        rowwise = per_row((folder / "gbm_binomial.zip").read_bytes(), rows)
        print(f"gbm_binomial, JPype per row (not taken): {rowwise:,.0f} records/s", flush=True)
        cli, seconds = predict_csv(folder / "gbm_binomial.zip", rows * 10, folder)
        print(f"gbm_binomial, genmodel PredictCsv, 100,000 rows: {cli:,.0f} records/s "
              f"({seconds:.1f} s with its JVM start)")  # fmt: skip


if __name__ == "__main__":
    main()
