"""PMML through JPMML-Evaluator, the reference PMML evaluator (the ``jpmml-evaluator`` package:
AGPL-3.0, an optional extra, see README). The JVM runs in this process through JPype: a batch
crosses as one pickled column table and comes back as one, in a single JVM call, with no
socket and no text encoding in between (measured faster than its Py4J backend: bench/)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from service.errors import ModelLoadError
from service.inputs.schema import InputSchema, TypedBatch
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.jvm import require_hardened, start_jvm
from service.runtimes.pmml_layout import PmmlLayout, column_table, input_spec


def _backend() -> Any:
    """JPMML's JPype backend on the process's JVM (jvm.py: started once, hardened, with the
    evaluator's jars on its classpath). A JVM started by other code without the hardening is
    refused."""
    import jpype
    from jpmml_evaluator.jpype import JPypeBackend

    start_jvm()
    system = jpype.JClass("java.lang.System")
    require_hardened(lambda name: str(system.getProperty(name)), "jpmml-evaluator")
    return JPypeBackend()


class JpmmlModel:
    """``threads``: JVM threads per batch, the cores a worker process has to itself (the
    service passes cores / MODELSERVE_WORKERS, as to onnxruntime): measured 1.2-1.9 x faster on
    a 100-tree forest with two threads on two cores, while more threads than cores would only
    fight the other workers."""

    def __init__(self, artifact: bytes, labels: Sequence[str] | None, threads: int = 1) -> None:
        self._threads = threads
        from jpmml_evaluator import LoadingModelEvaluatorBuilder

        self._backend = _backend()
        try:
            # From the bytes, never from a path: a descriptor must not choose files to read
            # (jpmml_evaluator.make_evaluator would read a short string naming a file).
            builder = LoadingModelEvaluatorBuilder(self._backend).loadBytes(artifact)
            self._evaluator = builder.build().verify()
            java = self._evaluator.javaEvaluator
            self.input_schema = InputSchema(
                tuple(
                    input_spec(f.getName(), str(f.getDataType()))
                    for f in self._evaluator.getInputFields()
                )
            )
            target_fields = self._evaluator.getTargetFields()
            targets = [f.getName() for f in target_fields]
            target_type = target_fields[0].getDataType() if target_fields else "string"
            function = str(java.getMiningFunction().value())
            probabilities: list[tuple[str, object]] = []
            label_column = targets[0] if targets else None
            for output in self._evaluator.getOutputFields():
                declared = output.javaModelField.getField()
                feature = str(declared.getResultFeature().value())
                if feature == "probability" and declared.getValue() is not None:
                    value = _typed(str(declared.getValue()), target_type)
                    probabilities.append((output.getName(), value))
                elif feature == "predictedValue" and label_column is None:
                    label_column = output.getName()
        except ModelLoadError:
            raise
        except Exception as exc:  # JPype raises the JVM's exceptions as Python ones
            raise ModelLoadError(f"jpmml-evaluator cannot load the model: {exc}") from exc
        self._layout = PmmlLayout.of(function, label_column, probabilities, labels)
        self.runtime = RuntimeInfo("jpmml-evaluator", version("jpmml-evaluator"))

    def predict(self, batch: TypedBatch) -> BatchResult:
        from jpmml_evaluator import PythonEvaluatorUtil

        size = batch.size
        answer = PythonEvaluatorUtil.evaluateAll(
            self._backend,
            self._evaluator.javaEvaluator,
            # None is a missing value to PMML
            {"columns": self.input_schema.names, "data": column_table(batch)},
            None,
            # JPMML builds a new thread pool per call for parallelism > 1; -1 runs the batch on
            # the JVM's shared pool instead (sized cores - 1, plus the calling thread).
            -1 if self._threads > 1 else 1,
        )
        columns = dict(zip(answer["columns"], answer["data"], strict=True))
        errors = answer["errors"]
        row_errors = {i: f"failed: {e}" for i, e in enumerate(errors or ()) if e is not None}
        return self._layout.result(columns, size, row_errors)

    def close(self) -> None:
        # The evaluator is a JVM object; dropping the reference lets the JVM collect it.
        del self._evaluator


def _typed(value: str, data_type: str) -> object:
    """A class value as the target field's type, as JPMML decodes the predicted label, so
    that a double target's class "5.0" and its label 5.0 read the same ("5")."""
    try:
        if data_type in ("double", "float"):
            return float(value)
        if data_type == "integer":
            return int(float(value))
    except ValueError:
        return value
    return value
