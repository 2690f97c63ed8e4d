"""The salary pipeline Hazelcast Jet's talk is built on: census records with string and number
fields, a scikit-learn Pipeline (OneHotEncoder on the strings, a random forest), exported the
three ways a data scientist would (skl2onnx, sklearn2pmml, a signed pickle). The records are
made here from a fixed seed, with the seed's field names (hyphens, strings), so that the
benchmark and the tests need no download."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CATEGORIES: dict[str, tuple[str, ...]] = {
    "workclass": ("Private", "Self-emp", "Federal-gov", "Local-gov", "State-gov"),
    "education": ("HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate", "11th"),
    "marital-status": ("Never-married", "Married-civ-spouse", "Divorced", "Widowed"),
    "occupation": ("Farming-fishing", "Exec-managerial", "Craft-repair", "Sales", "Tech-support"),
    "relationship": ("Own-child", "Husband", "Wife", "Not-in-family", "Unmarried"),
    "native-country": ("United-States", "Mexico", "India", "Germany", "Philippines"),
}
NUMBERS = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
FIELDS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
)
CLASSES = ("<=50K", ">50K")


def records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` census records as JSON objects would carry them (numbers as integers)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[Any]] = {
        "age": rng.integers(17, 80, n).tolist(),
        "fnlwgt": rng.integers(10_000, 500_000, n).tolist(),
        "education-num": rng.integers(1, 17, n).tolist(),
        "capital-gain": (rng.integers(0, 2, n) * rng.integers(0, 20_000, n)).tolist(),
        "capital-loss": (rng.integers(0, 2, n) * rng.integers(0, 2_000, n)).tolist(),
        "hours-per-week": rng.integers(10, 80, n).tolist(),
    }
    for name, values in CATEGORIES.items():
        columns[name] = rng.choice(values, n).tolist()
    return [{name: columns[name][i] for name in FIELDS} for i in range(n)]


def truth(rows: list[dict[str, Any]], seed: int = 1) -> list[str]:
    """A noisy rule of education, hours, marriage and capital gains: what the forest learns."""
    noise = np.random.default_rng(seed).normal(0.0, 4.0, len(rows))
    score = [
        3 * r["education-num"]
        + r["hours-per-week"] / 2
        + 10 * (r["marital-status"] == "Married-civ-spouse")
        + r["capital-gain"] / 2_000
        + e
        for r, e in zip(rows, noise, strict=True)
    ]
    return [CLASSES[1] if s > 48 else CLASSES[0] for s in score]


def frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(FIELDS))


def pipeline(trees: int = 50, rows: int = 3000) -> tuple[Any, Any]:
    """The fitted Pipeline and its training frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    data = records(rows)
    train = frame(data)
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), list(CATEGORIES))],
        remainder="passthrough",
    )
    forest = RandomForestClassifier(n_estimators=trees, max_depth=12, random_state=0)
    fitted = Pipeline([("encode", encode), ("forest", forest)]).fit(train, truth(data))
    return fitted, train


@dataclass(frozen=True)
class Exports:
    pipeline: Any
    onnx: bytes
    pmml: bytes
    pickle: bytes


def export(trees: int = 50) -> Exports:
    """The pipeline as ONNX (skl2onnx, one input per column, types from the frame), PMML
    (sklearn2pmml, from the same fitted pipeline; needs Java) and a joblib pickle (to be
    signed by the publisher)."""
    import tempfile

    import joblib
    from skl2onnx import to_onnx
    from sklearn2pmml import make_pmml_pipeline, sklearn2pmml

    fitted, train = pipeline(trees)
    onnx = to_onnx(fitted, train[:1], target_opset=17).SerializeToString()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "salary.pmml"
        as_pmml = make_pmml_pipeline(fitted, active_fields=list(FIELDS), target_fields=["income"])
        sklearn2pmml(as_pmml, str(path))
        pmml = path.read_bytes()
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    return Exports(fitted, onnx, pmml, buffer.getvalue())
