"""PMML through pypmml (pmml4s in a JVM over py4j; Apache-2.0). Batches cross to the JVM as one
JSON document in pandas' ``split`` layout, so a batch costs one round trip, not one per row.

Known wrong (pypmml 1.5.8): a tree leaf whose ``ScoreDistribution`` omits a class gives NaN for
it, and forests averaging such trees give wrong labels. The checks refuse those answers (the
rows are dead-lettered, never published); the hint names the engine that gets them right."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import numpy as np
import orjson

from service.errors import ModelLoadError
from service.inputs.schema import InputSchema, TypedBatch
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.jvm import HARDENED_JAVA_OPTS, JVM_START_LOCK, require_hardened
from service.runtimes.pmml_layout import PmmlLayout, column_table, input_spec

HINT = (
    "pypmml mis-evaluates some PMML (trees whose leaves omit classes, forests of them): "
    "set MODELSERVE_PMML_ENGINE=jpmml to use JPMML-Evaluator, the reference evaluator"
)


def start_hardened_jvm() -> Any:
    """pypmml keeps one JVM per process in a class attribute of its own. We start it hardened,
    and check that it is."""
    from pypmml.base import PMMLContext

    with JVM_START_LOCK:
        context = PMMLContext.getOrCreate(gateway="py4j", java_opts=list(HARDENED_JAVA_OPTS))

        def system_property(name: str) -> object:
            return PMMLContext._gateway.call_java_static_func(
                "java.lang.System", "getProperty", name
            )

        require_hardened(system_property, "pypmml")
        return context


class PypmmlModel:
    def __init__(self, artifact: bytes, labels: Sequence[str] | None) -> None:
        try:
            text = artifact.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelLoadError("PMML artifact is not UTF-8 text") from exc
        start_hardened_jvm()
        from pypmml import Model as PypmmlEngineModel

        try:
            # From the text, never from a path: a descriptor must not choose files to read.
            self._model = PypmmlEngineModel.fromString(text)
            self._model.setSupplementOutput(True)
            self.input_schema = InputSchema(
                tuple(input_spec(str(f.name), str(f.dataType)) for f in self._model.inputFields)
            )
            function = str(self._model.functionName)
            outputs = list(self._model.outputFields)
        except Exception as exc:  # pypmml wraps JVM errors in its own types
            raise ModelLoadError(f"pypmml cannot load the model: {exc}") from exc
        probabilities: list[tuple[str, object]] = []
        label_column: str | None = None
        for field in outputs:
            feature = str(field.feature)
            if feature == "probability" and field.value is not None:
                probabilities.append((str(field.name), field.value))
            elif feature == "predictedValue" and label_column is None:
                label_column = str(field.name)
        self._layout = PmmlLayout.of(function, label_column, probabilities, labels)
        self.runtime = RuntimeInfo("pypmml", version("pypmml"), HINT)

    def predict(self, batch: TypedBatch) -> BatchResult:
        names = self.input_schema.names
        data: Any
        if self.input_schema.all_numeric_scalars:
            # One C call for the whole matrix (orjson writes NaN, a missing value, as null).
            data = np.ascontiguousarray(batch.matrix())
        else:
            data = list(zip(*column_table(batch), strict=True))
        payload = orjson.dumps({"columns": names, "data": data}, option=orjson.OPT_SERIALIZE_NUMPY)
        answer = orjson.loads(self._model.predict(payload.decode("utf-8")))
        answered: list[str] = answer["columns"]
        rows: list[list[Any]] = answer["data"]
        columns = dict(zip(answered, zip(*rows, strict=True), strict=False)) if rows else {}
        return self._layout.result(columns, len(rows))

    def close(self) -> None:
        # Drops the py4j reference so the JVM can collect the model.
        del self._model
