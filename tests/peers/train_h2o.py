"""Run by the ``h2o`` peer environment's Python, never imported by the service's: starts a
local H2O (one, for every model), trains small models on generated data, exports each as a
MOJO and records H2O's own predictions for a test frame with missing values and an unseen
category, for the service's H2O runtime to be held against.

    python -I train_h2o.py <folder>

writes ``<name>.zip`` for every model in ``MODELS`` and ``expected.json``: the test rows
(``rows``: one dict per row, None for a missing value), and per model its columns, category,
classes and H2O's answers (``predict``; ``probabilities``, one list per row in class order;
``threshold``, a binomial model's F1-optimal one)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import h2o
from h2o.estimators import (
    H2OGeneralizedLinearEstimator,
    H2OGradientBoostingEstimator,
    H2OKMeansEstimator,
)

COLORS = ["red", "green", "blue"]
SIZES = ["S", "M", "L", "XL"]
TRAIN_ROWS = 600
TEST_ROWS = 300


def _row(rng: random.Random) -> dict[str, Any]:
    x1, x2 = rng.gauss(0, 1), rng.uniform(-2, 2)
    color, size = rng.choice(COLORS), rng.choice(SIZES)
    shift = {"red": 0.8, "green": -0.4, "blue": 0.0}[color]
    # Imbalanced and noisy, so that the F1-optimal threshold is not 0.5 and some rows fall
    # between it and 0.5 (their label differs from the argmax of their probabilities).
    score = 1.2 * x1 - 0.7 * x2 + shift - 1.5 + rng.gauss(0, 1.2)
    kind = "a" if x1 + shift > 0.6 else ("b" if x2 + rng.gauss(0, 0.8) > 0 else "c")
    price = 3.0 * x1 + 2.0 * x2 + 4.0 * SIZES.index(size) + 5 * shift + rng.gauss(0, 0.5)
    return {
        "x1": x1,
        "x2": x2,
        "color": color,
        "size": size,
        "bought": "yes" if score > 0 else "no",
        "kind": kind,
        "price": price,
    }


def _test_rows(rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(TEST_ROWS):
        row = {k: v for k, v in _row(rng).items() if k in ("x1", "x2", "color", "size")}
        if i % 10 == 3:
            row["x1"] = None
        if i % 10 == 5:
            row["color"] = None
        if i % 10 == 7:
            row["color"] = "purple"  # unseen in training
        if i % 25 == 11:
            row["size"] = "XXL"
        rows.append(row)
    rows.append({"x1": None, "x2": None, "color": None, "size": None})
    return rows


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    table = {c: [r.get(c) for r in rows] for c in columns}
    types = {c: ("enum" if c in ("color", "size", "bought", "kind") else "real") for c in columns}
    # None is a missing value (NA), not the level "" H2O would make of it otherwise
    return h2o.H2OFrame(table, column_types=types, na_strings=[""])


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    train_rows = [_row(rng) for _ in range(TRAIN_ROWS)]
    test_rows = _test_rows(rng)
    h2o.init(nthreads=1, max_mem_size="1G", verbose=False)
    h2o.no_progress()
    try:
        features = ["x1", "x2", "color", "size"]
        train = _frame(train_rows, [*features, "bought", "kind", "price"])
        test = _frame(test_rows, features)
        models: dict[str, Any] = {
            "gbm_binomial": H2OGradientBoostingEstimator(ntrees=20, max_depth=3, seed=1),
            "glm_multinomial": H2OGeneralizedLinearEstimator(family="multinomial", seed=1),
            "gbm_regression": H2OGradientBoostingEstimator(ntrees=15, max_depth=4, seed=1),
            "kmeans": H2OKMeansEstimator(k=3, seed=1),
        }
        targets = {"gbm_binomial": "bought", "glm_multinomial": "kind", "gbm_regression": "price"}
        expected: dict[str, Any] = {"h2o": h2o.__version__, "rows": test_rows, "models": {}}
        for name, model in models.items():
            target = targets.get(name)
            if target is None:
                model.train(x=features, training_frame=train)
            else:
                model.train(x=features, y=target, training_frame=train)
            mojo = Path(model.download_mojo(path=str(folder)))
            mojo.rename(folder / f"{name}.zip")
            if target is None:
                continue
            answers = h2o.as_list(model.predict(test), use_pandas=False, header=True)
            header, body = answers[0], answers[1:]
            entry: dict[str, Any] = {"target": target, "features": features}
            entry["predict"] = [row[0] for row in body]
            if len(header) > 1:
                entry["classes"] = header[1:]
                entry["probabilities"] = [[float(v) for v in row[1:]] for row in body]
            else:
                entry["predict"] = [float(v) for v in entry["predict"]]
            if name == "gbm_binomial":
                entry["threshold"] = model.default_threshold()
            expected["models"][name] = entry
        (folder / "expected.json").write_text(json.dumps(expected))
    finally:
        h2o.cluster().shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
