"""H2O MOJOs, scored by H2O's own Java scorer (genmodel's ``EasyPredictModelWrapper`` over
the MOJO's ``MojoModel``) in the process's JVM, through JPype (jvm.py: the one JVM the PMML
engine shares). A batch crosses once: its columns go to modelserve's ``BatchScorer``
(h2o_java/) as one array per input, which loops over the rows in Java and answers one array
of doubles. Crossing JPype per row and value instead costs microseconds per value; DOCS-h2o.md
has the measured figures.

Answers are H2O's: a classifier's label is the MOJO's own (a binomial model's F1-optimal
threshold, not the argmax), its classes are the response's domain in the MOJO's order; a
missing value (None, NaN) and a category the model never saw are both missing to H2O (the
latter counted in ``unseen_categories``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.errors import ModelLoadError
from service.inputs.schema import MAX_KEPT_CATEGORIES, InputSchema, InputSpec, TypedBatch
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.catalog import LoadRequest
from service.runtimes.h2o_genmodel import (
    check_mojo,
    genmodel_jar,
    genmodel_version,
    scorer_class,
)

ENGINE = "h2o-genmodel"
SUPPORTED = ("Binomial", "Multinomial", "Regression")


def load(request: LoadRequest) -> H2oMojoModel:
    return H2oMojoModel(request.artifact, request.labels, request.options.h2o_genmodel_jar)


class H2oMojoModel:
    def __init__(
        self, artifact: bytes, labels: Sequence[str] | None = None, jar: str | None = None
    ) -> None:
        check_mojo(artifact)
        self._scorer_class, self._loader = scorer_class(genmodel_jar(jar))
        try:
            self._open(artifact, labels)
        except BaseException:
            self._loader.close()
            raise

    def _open(self, artifact: bytes, labels: Sequence[str] | None) -> None:
        import jpype

        try:
            self._scorer = self._scorer_class(jpype.JArray(jpype.JByte)(artifact))
            model = self._scorer.model()
            category = str(model.getModelCategory().name())
            if category not in SUPPORTED:
                raise ModelLoadError(
                    f"an H2O {category} model (algo {_algo(model)}) answers no label or value: "
                    f"modelserve serves {', '.join(SUPPORTED)} MOJOs"
                )
            self.input_schema = _schema(model)
            self._width = int(self._scorer.width())
            self._classes: tuple[str, ...] = ()
            if category != "Regression":
                own = tuple(str(v) for v in model.getDomainValues(model.getResponseIdx()))
                if labels and len(labels) != len(own):
                    raise ModelLoadError(f"{len(labels)} labels for the MOJO's {len(own)} classes")
                self._classes = tuple(labels) if labels else own
            version = genmodel_version(self._loader)
        except ModelLoadError:
            raise
        except Exception as exc:  # JPype raises the JVM's exceptions as Python ones
            raise ModelLoadError(f"H2O's genmodel cannot load the MOJO: {exc}") from exc
        self._names = jpype.JArray(jpype.JString)(self.input_schema.names)
        self.runtime = RuntimeInfo(ENGINE, version)

    @property
    def classes(self) -> tuple[str, ...]:
        """A classifier's classes, in the MOJO's order; empty for a regression."""
        return self._classes

    @property
    def unseen_categories(self) -> int:
        """Values of categorical inputs the model never saw, scored as missing, so far."""
        return int(self._scorer.unseenCategories())

    def predict(self, batch: TypedBatch) -> BatchResult:
        import jpype

        size = batch.size
        columns = jpype.JArray(jpype.JObject)(len(self.input_schema))
        for i, spec in enumerate(self.input_schema.inputs):
            column = batch.columns[spec.name]
            if spec.type == "string":
                columns[i] = jpype.JArray(jpype.JString)(column.tolist())
            else:
                numbers = np.ascontiguousarray(column, dtype=np.float64)
                columns[i] = jpype.JArray(jpype.JDouble)(numbers)
        errors = jpype.JArray(jpype.JString)(size)
        answer = self._scorer.score(self._names, columns, size, errors)
        table = np.asarray(answer, dtype=np.float64).reshape(size, self._width)
        refused = np.flatnonzero(np.isnan(table[:, 0])).tolist()
        row_errors = {i: f"refused by H2O's scorer: {errors[i]}" for i in refused}
        if not self._classes:
            return BatchResult("regressor", size, values=table[:, 0], row_errors=row_errors)
        names = np.asarray(self._classes, dtype=object)
        indices = np.nan_to_num(table[:, 0], nan=0.0).astype(np.intp)
        labels = names[indices].tolist()
        return BatchResult(
            "classifier",
            size,
            labels,
            list(self._classes),
            table[:, 1:],
            row_errors=row_errors,
        )

    def close(self) -> None:
        # The scorer and its classes are the JVM's; closing their loader lets it unload them.
        del self._scorer
        self._loader.close()


def _schema(model: Any) -> InputSchema:
    """The MOJO's inputs: its columns before any encoding (``getOrigNames`` when the MOJO
    encodes categoricals itself), numbers or categories, every one nullable, the response
    excluded."""
    original = model.getOrigNames()
    names = original if original is not None else model.getNames()
    domains = model.getOrigDomainValues() if original is not None else model.getDomainValues()
    response = str(model.getResponseName()) if model.isSupervised() else None
    specs = []
    for name, domain in zip(names, domains, strict=False):
        if str(name) == response:
            continue
        if domain is None:
            specs.append(InputSpec(str(name), "double"))
        else:
            kept = tuple(str(level) for level in domain[:MAX_KEPT_CATEGORIES])
            specs.append(InputSpec(str(name), "string", categories=kept))
    return InputSchema(tuple(specs))


def _algo(model: Any) -> str:
    try:
        return str(model.getClass().getSimpleName())
    except Exception:
        return "unknown"
