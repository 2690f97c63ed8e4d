"""Class names come from the model: an ONNX classifier exported without ZipMap and published
without `labels` names its probability columns by the classes it declares (issue 19 found
`"label": "<=50K"` beside probability keys "0" and "1"); and a label that is not among the
probability keys is never published, whatever the runtime."""

from __future__ import annotations

import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from service.inputs.schema import TypedBatch
from service.runtimes.answers import publishable_results
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.checks import row_problems
from service.runtimes.onnx import OnnxModel
from service.wine import WINE_FIELDS, wine_arrays


def salary_like(zipmap: bool, integer_classes: bool = False) -> tuple[bytes, LogisticRegression]:
    features, quality = wine_arrays()
    names = np.where(quality >= 6, ">50K", "<=50K")
    labels = (quality >= 6).astype(np.int64) * 7 if integer_classes else names
    model = LogisticRegression(max_iter=500).fit(features, labels)
    onx = to_onnx(model, features[:1].astype(np.float32), options={"zipmap": zipmap})
    return onx.SerializeToString(), model


def test_probability_keys_are_the_models_classes_without_zipmap_or_labels() -> None:
    for zipmap in (False, True):
        artifact, fitted = salary_like(zipmap)
        model = OnnxModel(artifact, list(WINE_FIELDS), None)
        rows = wine_arrays()[0][:50]
        result = model.predict(TypedBatch.of_matrix(model.input_schema, rows))
        assert list(result.classes or []) == ["<=50K", ">50K"]
        assert list(result.labels or []) == list(fitted.predict(rows))
        published = publishable_results(result, model.runtime)
        assert all(isinstance(row, bytes) for row in published)
        first = published[0]
        assert isinstance(first, bytes) and b'"<=50K":' in first and b'"0":' not in first


def test_integer_classes_are_named_by_their_values() -> None:
    artifact, _ = salary_like(zipmap=False, integer_classes=True)
    model = OnnxModel(artifact, list(WINE_FIELDS), None)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, wine_arrays()[0][:20]))
    assert list(result.classes or []) == ["0", "7"]
    assert set(result.labels or []) <= {"0", "7"}


def test_labels_from_the_descriptor_still_name_the_columns() -> None:
    artifact, _ = salary_like(zipmap=False)
    model = OnnxModel(artifact, list(WINE_FIELDS), ["low", "high"])
    result = model.predict(TypedBatch.of_matrix(model.input_schema, wine_arrays()[0][:5]))
    assert list(result.classes or []) == ["low", "high"]
    assert set(result.labels or []) <= {"low", "high"}


def test_a_label_outside_the_probability_keys_is_refused() -> None:
    probabilities = np.array([[0.3, 0.7], [0.6, 0.4], [0.5, 0.5]])
    result = BatchResult("classifier", 3, [">50K", "0", "<=50K"], ["<=50K", ">50K"], probabilities)
    problems = row_problems(result)
    assert set(problems) == {1} and "not among its classes" in problems[1]
    refused = publishable_results(result, RuntimeInfo("engine", "1"))
    assert isinstance(refused[0], bytes) and not isinstance(refused[1], bytes)
