"""PMML models through pypmml (a JVM over py4j). Batches cross to the JVM as one JSON
document in pandas' ``split`` layout, so a batch costs one round trip, not one per row."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from ..errors import ModelLoadError
from .base import BatchResult, FloatMatrix

# The JVM's XML parsers must not fetch external DTDs, schemas or entities: a PMML document is
# untrusted input (XXE: file disclosure, SSRF). These JAXP properties apply to every parser
# the JVM creates, including the one pmml4s uses.
HARDENED_JAVA_OPTS = (
    "-Djavax.xml.accessExternalDTD=",
    "-Djavax.xml.accessExternalSchema=",
    "-Djavax.xml.accessExternalStylesheet=",
    "-Djdk.xml.entityExpansionLimit=2000",
    "-Djdk.xml.totalEntitySizeLimit=100000",
    "-Xss4m",
)

_jvm_lock = threading.Lock()


def _pmml_context() -> Any:
    """pypmml keeps one JVM per process in a class attribute of its own. We start it hardened,
    and check that it is: if other code in the process started it first without the options,
    PMML is refused rather than parsed unsafely."""
    from pypmml.base import PMMLContext

    with _jvm_lock:
        context = PMMLContext.getOrCreate(gateway="py4j", java_opts=list(HARDENED_JAVA_OPTS))
        allowed = PMMLContext._gateway.call_java_static_func(
            "java.lang.System", "getProperty", "javax.xml.accessExternalDTD"
        )
        if allowed != "":
            raise ModelLoadError("the PMML JVM allows external entities; refusing to parse PMML")
        return context


class PmmlModel:
    def __init__(self, artifact: bytes, labels: Sequence[str] | None) -> None:
        try:
            text = artifact.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelLoadError("PMML artifact is not UTF-8 text") from exc
        _pmml_context()
        from pypmml import Model as PypmmlModel

        try:
            # From the text, never from a path: a descriptor must not choose files to read.
            self._model = PypmmlModel.fromString(text)
            self._model.setSupplementOutput(True)
            self._input_names = [str(n) for n in self._model.inputNames]
            function = str(self._model.functionName)
            outputs = list(self._model.outputFields)
        except Exception as exc:  # pypmml wraps JVM errors in its own types
            raise ModelLoadError(f"pypmml cannot load the model: {exc}") from exc
        self._proba_columns: list[str] = []
        classes: list[str] = []
        self._label_column: str | None = None
        self._value_column: str | None = None
        for field in outputs:
            feature = str(field.feature)
            if feature == "probability" and field.value is not None:
                self._proba_columns.append(str(field.name))
                classes.append(_label_text(field.value))
            elif feature == "predictedValue" and self._label_column is None:
                self._label_column = str(field.name)
        if function == "classification":
            self.kind = "classifier"
            self._classes = list(labels) if labels else classes
        elif function == "regression" and self._label_column is not None:
            self.kind = "regressor"
            self._classes = []
        else:
            self.kind = "outputs"
            self._classes = []
        if self.kind == "classifier" and len(self._classes) != len(self._proba_columns):
            raise ModelLoadError(
                f"{len(self._classes)} labels for {len(self._proba_columns)} probability outputs"
            )

    @property
    def input_names(self) -> Sequence[str]:
        return self._input_names

    def predict(self, features: FloatMatrix) -> BatchResult:
        payload = orjson.dumps(
            {"columns": self._input_names, "data": features}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        answer = orjson.loads(self._model.predict(payload.decode("utf-8")))
        columns: list[str] = answer["columns"]
        rows: list[list[Any]] = answer["data"]
        size = len(rows)
        index = {name: i for i, name in enumerate(columns)}
        if self.kind == "regressor":
            assert self._label_column is not None
            at = index[self._label_column]
            return BatchResult(
                "regressor", size, values=np.array([r[at] for r in rows], np.float64)
            )
        if self.kind == "classifier":
            proba_at = [index[c] for c in self._proba_columns]
            probabilities = np.array([[r[i] for i in proba_at] for r in rows], dtype=np.float64)
            if self._label_column is not None and self._label_column in index:
                at = index[self._label_column]
                labels = [_label_text(r[at]) for r in rows]
            else:
                names = np.asarray(self._classes, dtype=object)
                labels = list(names[np.argmax(probabilities, axis=1)])
            return BatchResult("classifier", size, labels, self._classes, probabilities)
        return BatchResult(
            "outputs", size, outputs=[dict(zip(columns, r, strict=True)) for r in rows]
        )

    def close(self) -> None:
        # Drops the py4j reference so the JVM can collect the model.
        del self._model


def _label_text(value: object) -> str:
    """PMML class values come back as numbers or strings; labels are always text, and a
    whole number reads the same however the JVM typed it (6, not 6.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
