"""Run by the ``mlserver`` peer environment's Python, never imported by the service's: fits
the wine classifier that MLServer serves, with that environment's scikit-learn, so that
MLServer unpickles it with the version that pickled it.

    python -I train_wine.py <winequality_red.csv> <folder> [forest|linear]

fits a forest (50 fully grown trees), or with ``linear`` a standardised logistic regression
(a model that costs the server next to nothing, so a comparison measures the server), and
writes ``model.joblib`` and ``expected.json`` (the features of every row as parsed, and what
the model answers for them: ``predict`` and ``predict_proba``) into ``folder``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = 11  # the data's columns before the label, ``quality``


def estimator(kind: str) -> ClassifierMixin:
    if kind == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    # One thread: the machine is shared, and 50 trees on 1,600 rows take a second anyway.
    return RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1)


def main(data: Path, folder: Path, kind: str = "forest") -> None:
    table = np.loadtxt(data, delimiter=";", dtype=np.float64)
    features, labels = table[:, :FEATURES], table[:, FEATURES].astype(np.int64)
    model = estimator(kind)
    model.fit(features, labels)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    expected = {
        "sklearn": sklearn.__version__,
        "classes": model.classes_.tolist(),
        "features": features.tolist(),
        "predict": model.predict(features).tolist(),
        "predict_proba": model.predict_proba(features).tolist(),
    }
    (folder / "expected.json").write_text(json.dumps(expected))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
