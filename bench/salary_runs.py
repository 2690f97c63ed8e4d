"""The salary pipeline (strings and numbers) as ONNX, PMML and a signed pickle: the service's
records/s against the same runtime alone on in-memory batches of 1,000 of the same records,
already in the runtime's own form (onnxruntime fed numpy columns; the PMML runtime fed a typed
batch; scikit-learn fed a DataFrame). The gap is what the service adds: Kafka in and out,
JSON, binding and converting the columns, writing the answers."""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.tools.publishing import publish

from . import salary
from .harness import create_topics, output_rate, preload, serve, uid
from .in_process import engine_rate

KEY = "bench-key"
DATA_TYPE = "census"
KINDS = {"onnx": "ONNX", "pmml": "PMML", "pickle": "PICKLE"}


async def salary_figures(bootstrap: str, count: int, pmml_count: int) -> dict[str, float]:
    """Per export: ``service <kind>`` and ``raw <kind>`` records/s."""
    exports = salary.export(trees=50)
    rows = salary.records(max(count, pmml_count), seed=11)
    data = f"census-{uid()}"
    await create_topics(bootstrap, data)
    await preload(bootstrap, data, [orjson.dumps({"dataType": DATA_TYPE, **r}) for r in rows])
    figures: dict[str, float] = {}
    for kind, model_type in KINDS.items():
        artifact: bytes = getattr(exports, kind)
        n = pmml_count if kind == "pmml" else count
        figures[f"service salary {kind}"] = await _service_rate(
            bootstrap, data, n, kind, model_type, artifact
        )
        figures[f"raw salary {kind}"] = _raw_rate(kind, exports, rows[:10_000])
        if kind == "onnx":
            figures["in-process salary onnx"] = await _in_process_rate(exports, rows[:10_000])
        shown = ", ".join(f"{k} {v:,.0f}" for k, v in figures.items() if kind in k)
        print(f"  salary {kind} (records/s): {shown}", flush=True)
    return figures


async def _service_rate(
    bootstrap: str, data: str, count: int, kind: str, model_type: str, artifact: bytes
) -> float:
    control, output = f"models-{uid()}", f"out-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, output)
    fields: dict[str, Any] = {
        "name": f"salary-{kind}",
        "dataType": DATA_TYPE,
        "modelType": model_type,
        "data": artifact,
    }
    if model_type == "PICKLE":
        fields["signature"] = hmac.new(KEY.encode(), artifact, hashlib.sha256).hexdigest()
    settings = Settings(bootstrap_servers=bootstrap, control_topic=control)
    await publish(settings, ModelDescriptor.model_validate(fields))
    with serve(
        bootstrap,
        control_topic=control,
        data_topics=[data],
        output_topic=output,
        group_id=f"g-{uid()}",
        pickle_key=KEY,
    ):
        return await output_rate(bootstrap, output, count)


async def _in_process_rate(exports: salary.Exports, rows: list[dict[str, Any]]) -> float:
    """The service's own path without Kafka (bench/in_process.py): what the typed batch
    costs beside the model."""
    descriptor = ModelDescriptor.model_validate(
        {
            "name": "s",
            "version": 1,
            "dataType": DATA_TYPE,
            "modelType": "ONNX",
            "data": exports.onnx,
        }
    )
    return await engine_rate(descriptor, rows, runs=1)


def _raw_rate(kind: str, exports: salary.Exports, rows: list[dict[str, Any]]) -> float:
    call = _runtime_alone(kind, exports, rows)
    batches = [(start, start + 1000) for start in range(0, len(rows) - 999, 1000)]
    call(*batches[0])  # warm
    done, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < 3.0:
        call(*batches[i % len(batches)])
        done, i = done + 1000, i + 1
    return done / (time.perf_counter() - started)


def _runtime_alone(
    kind: str, exports: salary.Exports, rows: list[dict[str, Any]]
) -> Callable[[int, int], Any]:
    if kind == "onnx":
        import onnx
        import onnxruntime as ort

        from service.runtimes.onnx_graph import without_zipmap

        # The graph as the service runs it (probabilities as one tensor, not a dict per row),
        # so that the ratio compares the same model call.
        proto = onnx.ModelProto.FromString(exports.onnx)
        without_zipmap(proto)
        session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        frame = salary.frame(rows)
        feeds = {}
        for node in session.get_inputs():
            column = frame[node.name.replace("_", "-")].to_numpy()
            dtype = object if node.type == "tensor(string)" else np.int64
            feeds[node.name] = column.astype(dtype).reshape(-1, 1)
        return lambda a, b: session.run(None, {k: v[a:b] for k, v in feeds.items()})
    if kind == "pmml":
        from service.inputs.conversion import typed_batch
        from service.runtimes.pmml import open_pmml

        model = open_pmml(exports.pmml)
        batch = typed_batch(model.input_schema, rows)
        return lambda a, b: model.predict(batch.take(np.arange(a, b)))
    frame = salary.frame(rows)
    return lambda a, b: exports.pipeline.predict_proba(frame.iloc[a:b])


def ratios(m: dict[str, float]) -> dict[str, float]:
    found = {
        f"service salary {kind} / raw salary {kind}": m[f"service salary {kind}"]
        / m[f"raw salary {kind}"]
        for kind in KINDS
        if f"service salary {kind}" in m
    }
    if "in-process salary onnx" in m:
        found["in-process salary onnx / raw salary onnx"] = (
            m["in-process salary onnx"] / m["raw salary onnx"]
        )
    return found


def main() -> None:
    """`python -m bench.salary_runs [count]`: these figures alone, on their own broker."""
    import asyncio
    import sys

    from service.tools.devbroker import DevBroker

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000

    async def run() -> None:
        async with DevBroker() as broker:
            figures = await salary_figures(broker.bootstrap, count, max(count // 6, 3000))
        for name, value in ratios(figures).items():
            print(f"  {name:44s} {value:6.2f}")

    with tempfile.TemporaryDirectory():
        asyncio.run(run())


if __name__ == "__main__":
    main()
