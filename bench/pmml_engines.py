"""`python -m bench.pmml_engines`: the service's two PMML engines on the same in-memory batches
of 1,000 wine rows (the default max batch), as the service calls them (``open_pmml``, one JVM
call per batch); then JPMML-Evaluator's two Python backends (JPype in process, Py4J over a
socket to a hardened JVM of its own) and its ``parallelism`` on the forest. Each figure is the
median of several timed batches after a warm-up that lets the JIT compile the hot paths."""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from service.inputs.schema import TypedBatch
from service.runtimes.jvm import HARDENED_JAVA_OPTS
from service.runtimes.pmml import PmmlEngine, open_pmml
from service.wine import WINE_FIELDS, wine_arrays

from .workload import wine_stream

BATCH = 1000  # the service's default MAX_BATCH_SIZE
WARMUP_SECONDS = 10.0
WARMUP_CALLS = 30
TIMED_ROUNDS = 11
ENGINES: tuple[PmmlEngine, PmmlEngine] = ("jpmml", "pypmml")
TREE, FOREST, GLM = "tree, depth 5", "forest, 100 trees, depth 8", "GLM, LogisticRegression"


def build_models() -> dict[str, bytes]:
    """Three classifiers of wine quality (6 classes), exported with sklearn2pmml."""
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    from sklearn2pmml import PMMLPipeline, sklearn2pmml

    features, labels = wine_arrays()
    frame = pd.DataFrame(features.astype(np.float64), columns=list(WINE_FIELDS))
    target = pd.Series(labels, name="quality")
    estimators: dict[str, Any] = {
        TREE: DecisionTreeClassifier(max_depth=5, random_state=1),
        FOREST: RandomForestClassifier(n_estimators=100, max_depth=8, random_state=1),
        GLM: LogisticRegression(max_iter=5000),  # multinomial: a softmax RegressionModel
    }
    models: dict[str, bytes] = {}
    chatter = io.StringIO()  # sklearn2pmml prints its converter's log and a licence banner
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, estimator in estimators.items():
            pipeline = PMMLPipeline([("classifier", estimator)])
            pipeline.fit(frame, target)
            path = Path(folder) / "model.pmml"
            try:
                with contextlib.redirect_stdout(chatter):
                    sklearn2pmml(pipeline, str(path))
            except Exception:
                print(chatter.getvalue())
                raise
            models[name] = path.read_bytes()
    return models


def compare(calls: dict[str, Callable[[], object]], rows: int = BATCH) -> dict[str, float]:
    """Rows/s of each call (one batch of ``rows``): each is warmed up (at least WARMUP_CALLS
    calls and WARMUP_SECONDS), then the timed calls are interleaved, one of each per round, so
    that the machine's noise and drift fall on all of them alike; the median of TIMED_ROUNDS."""
    for call in calls.values():
        started, warm = time.perf_counter(), 0
        while warm < WARMUP_CALLS or time.perf_counter() - started < WARMUP_SECONDS:
            call()
            warm += 1
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(TIMED_ROUNDS):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - began)
    return {name: rows / statistics.median(spans) for name, spans in times.items()}


def columns_for(batch: np.ndarray, names: list[str]) -> np.ndarray:
    return np.ascontiguousarray(batch[:, [WINE_FIELDS.index(name) for name in names]])


def engine_lines(models: dict[str, bytes], batch: np.ndarray) -> list[str]:
    """Each model in each engine, through the service's runtime classes."""
    lines = [f"  {'model':30s} {'engine':8s} {'rows/s':>10s}   jpmml/pypmml   labels agree"]
    for name, artifact in models.items():
        opened = {engine: open_pmml(artifact, None, engine) for engine in ENGINES}
        inputs = {
            e: TypedBatch.of_matrix(m.input_schema, columns_for(batch, m.input_schema.names))
            for e, m in opened.items()
        }
        labels = [np.array(m.predict(inputs[e]).labels) for e, m in opened.items()]
        rates = compare({e: partial(m.predict, inputs[e]) for e, m in opened.items()})
        for model in opened.values():
            model.close()
        ratio, agree = rates["jpmml"] / rates["pypmml"], np.mean(labels[0] == labels[1])
        lines.append(f"  {name:30s} {'jpmml':8s} {rates['jpmml']:>10,.0f}   {ratio:8.2f}")
        lines.append(f"  {'':30s} {'pypmml':8s} {rates['pypmml']:>10,.0f}   {'':23s}{agree:6.1%}")
    return lines


def evaluate_all(
    backend: Any, artifact: bytes, batch: np.ndarray, parallelism: int
) -> Callable[[], object]:
    """JPMML's batch call on ``backend``, with the service's conversion of the batch."""
    from jpmml_evaluator import LoadingModelEvaluatorBuilder, PythonEvaluatorUtil

    evaluator = LoadingModelEvaluatorBuilder(backend).loadBytes(artifact).build().verify()
    names = [str(field.getName()) for field in evaluator.getInputFields()]
    x = columns_for(batch, names)

    def call() -> object:
        table = {"columns": names, "data": x.T.tolist()}
        return PythonEvaluatorUtil.evaluateAll(
            backend, evaluator.javaEvaluator, table, None, parallelism
        )

    answer: Any = call()
    assert not any(answer["errors"] or ()), answer["errors"]
    return call


def backend_lines(forest: bytes, batch: np.ndarray) -> list[str]:
    """JPMML on the forest: JPype (the service's backend) against Py4J, and parallelism."""
    from jpmml_evaluator import _classpath
    from jpmml_evaluator.jpype import JPypeBackend
    from jpmml_evaluator.py4j import Py4JBackend
    from py4j.java_gateway import JavaGateway

    open_pmml(forest, None, "jpmml").close()  # starts the in-process JVM hardened, as served
    gateway = JavaGateway.launch_gateway(
        classpath=os.pathsep.join(_classpath(user_classpath=[])),
        javaopts=list(HARDENED_JAVA_OPTS),
        die_on_exit=True,
    )
    try:
        dtd = gateway.jvm.java.lang.System.getProperty("javax.xml.accessExternalDTD")
        hardened = dtd == ""
        lines = [f"  Py4J JVM: javax.xml.accessExternalDTD={dtd!r} -> hardened: {hardened}"]
        if not hardened:
            raise RuntimeError("the Py4J JVM lost the hardening; not parsing PMML on it")
        jpype_backend = JPypeBackend()
        rates = compare(
            {
                "jpype": evaluate_all(jpype_backend, forest, batch, 1),
                "py4j": evaluate_all(Py4JBackend(gateway), forest, batch, 1),
                "all cores": evaluate_all(jpype_backend, forest, batch, -1),
            }
        )
    finally:
        gateway.shutdown()
        gateway.java_process.terminate()  # else it waits on stdin until this process exits
        gateway.java_process.wait(30)
    jpype, py4j, every_core = rates["jpype"], rates["py4j"], rates["all cores"]
    faster = "1 (the service's)" if jpype >= every_core else "-1 (all cores)"
    return [
        *lines,
        f"  JPype (in process)  parallelism 1   {jpype:>10,.0f} rows/s",
        f"  Py4J  (socket)      parallelism 1   {py4j:>10,.0f} rows/s",
        f"  JPype / Py4J                        {jpype / py4j:10.2f}",
        f"  JPype               parallelism -1  {every_core:>10,.0f} rows/s "
        f"({os.cpu_count()} cores; 1 / -1 = {jpype / every_core:.2f}; faster: {faster})",
    ]


def run() -> list[str]:
    """The section's printable lines (figures are medians of TIMED_ROUNDS batches)."""
    models = build_models()
    batch = wine_stream(BATCH, seed=5)
    return [
        f"PMML engines, batches of {BATCH} rows, rows/s (median of {TIMED_ROUNDS}, after warm-up):",
        *engine_lines(models, batch),
        f"JPMML-Evaluator backends, {FOREST}:",
        *backend_lines(models[FOREST], batch),
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
