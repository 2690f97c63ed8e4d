"""The wine quality data that ships with modelserve (see data/README.md), and a model trained
on it for the demo, tests and benchmarks."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from typing import Any

WINE_FIELDS = (
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
)
WINE_LABEL = "quality"


def wine_rows() -> Iterator[dict[str, float]]:
    """Each row of the data set as a record: the 11 features and the quality label."""
    text = resources.files("service").joinpath("data/winequality_red.csv").read_text()
    for row in csv.reader(text.splitlines(), delimiter=";"):
        if row:
            values = [float(v) for v in row]
            yield dict(zip((*WINE_FIELDS, WINE_LABEL), values, strict=True))


def wine_arrays() -> tuple[Any, Any]:
    import numpy as np

    rows = list(wine_rows())
    features = np.array([[r[f] for f in WINE_FIELDS] for r in rows], dtype=np.float32)
    labels = np.array([int(r[WINE_LABEL]) for r in rows])
    return features, labels


def train_wine_onnx(
    kind: str = "forest", trees: int = 30, zipmap: bool = False, max_depth: int | None = 8
) -> tuple[bytes, list[str]]:
    """A scikit-learn model of the wine data exported to ONNX (needs the demo extra), and its
    class labels in the order of its probability columns."""
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = wine_arrays()
    if kind == "forest":
        model: Any = RandomForestClassifier(n_estimators=trees, max_depth=max_depth, random_state=7)
    elif kind == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    model.fit(features, labels)
    options = {id(model): {"zipmap": zipmap}} if not zipmap else None
    onnx_model = to_onnx(model, features[:1], options=options, target_opset=17)
    classes = [str(c) for c in model.classes_]
    return bytes(onnx_model.SerializeToString()), classes
