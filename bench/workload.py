"""Records and models for the benchmarks: the wine data resampled with small noise, and
models of three sizes trained on it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from service.wine import WINE_FIELDS, train_wine_onnx, wine_arrays


def wine_stream(count: int, seed: int = 1) -> np.ndarray:
    features, _ = wine_arrays()
    rng = np.random.default_rng(seed)
    rows = features[rng.integers(0, len(features), count)].astype(np.float64)
    return rows * rng.normal(1.0, 0.01, rows.shape)


def encode_records(rows: np.ndarray, data_type: str = "wine") -> list[bytes]:
    return [
        orjson.dumps(
            {"dataType": data_type, **dict(zip(WINE_FIELDS, map(float, row), strict=True))}
        )
        for row in rows
    ]


@dataclass(frozen=True)
class BenchModel:
    name: str
    kind: str  # ONNX | PMML
    path: Path
    labels: list[str] | None


def make_models(folder: Path) -> dict[str, BenchModel]:
    folder.mkdir(parents=True, exist_ok=True)
    models: dict[str, BenchModel] = {}
    small, small_labels = train_wine_onnx("logistic")
    (folder / "small.onnx").write_bytes(small)
    models["small-onnx"] = BenchModel("small-onnx", "ONNX", folder / "small.onnx", small_labels)
    # scikit-learn's defaults: fully grown trees.
    forest, forest_labels = train_wine_onnx("forest", trees=100, max_depth=None)
    (folder / "forest100.onnx").write_bytes(forest)
    models["rf100-onnx"] = BenchModel(
        "rf100-onnx", "ONNX", folder / "forest100.onnx", forest_labels
    )
    models["pmml"] = BenchModel("pmml", "PMML", _pmml(folder), None)
    return models


def _pmml(folder: Path) -> Path:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn2pmml import PMMLPipeline, sklearn2pmml

    features, labels = wine_arrays()
    frame = pd.DataFrame(features.astype(np.float64), columns=list(WINE_FIELDS))
    pipeline = PMMLPipeline([("classifier", LogisticRegression(max_iter=2000))])
    pipeline.fit(frame, pd.Series(labels, name="quality"))
    path = folder / "logistic.pmml"
    with io.StringIO():
        sklearn2pmml(pipeline, str(path))
    return path
