"""Models for the tests, made with the exporters data scientists use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.wine import WINE_FIELDS, train_wine_onnx, wine_arrays


@dataclass(frozen=True)
class ModelFiles:
    forest_onnx: Path
    forest_classes: list[str]
    forest_zipmap_onnx: Path
    regressor_onnx: Path
    forest_pmml: Path
    regressor_pmml: Path
    spaced_pmml: Path  # fields named like Lightbend's JPMML wine models: "fixed acidity"
    features: np.ndarray


def make_model_files(folder: Path) -> ModelFiles:
    import pandas as pd
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression
    from sklearn.tree import DecisionTreeClassifier
    from sklearn2pmml import PMMLPipeline, sklearn2pmml

    features, labels = wine_arrays()
    forest, classes = train_wine_onnx("forest", trees=10)
    (folder / "forest.onnx").write_bytes(forest)
    zipmap, _ = train_wine_onnx("forest", trees=10, zipmap=True)
    (folder / "forest_zipmap.onnx").write_bytes(zipmap)
    regressor = LinearRegression().fit(features, labels.astype(np.float32))
    (folder / "regressor.onnx").write_bytes(to_onnx(regressor, features[:1]).SerializeToString())

    frame = pd.DataFrame(features.astype(np.float64), columns=list(WINE_FIELDS))
    pipeline = PMMLPipeline(
        [("classifier", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=3))]
    )
    pipeline.fit(frame, pd.Series(labels, name="quality"))
    sklearn2pmml(pipeline, str(folder / "forest.pmml"))
    spaced = frame.rename(columns=lambda c: c.replace("_", " "))
    tree = PMMLPipeline([("classifier", DecisionTreeClassifier(max_depth=6, random_state=5))])
    tree.fit(spaced, pd.Series(labels, name="quality"))
    sklearn2pmml(tree, str(folder / "spaced.pmml"))
    linear = PMMLPipeline([("regressor", LinearRegression())])
    linear.fit(frame, pd.Series(labels.astype(np.float64), name="quality"))
    sklearn2pmml(linear, str(folder / "regressor.pmml"))
    return ModelFiles(
        forest_onnx=folder / "forest.onnx",
        forest_classes=classes,
        forest_zipmap_onnx=folder / "forest_zipmap.onnx",
        regressor_onnx=folder / "regressor.onnx",
        forest_pmml=folder / "forest.pmml",
        regressor_pmml=folder / "regressor.pmml",
        spaced_pmml=folder / "spaced.pmml",
        features=features,
    )
