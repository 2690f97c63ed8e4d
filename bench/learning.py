"""Online learning, offline: prequential (test-then-train) accuracy over a stream with concept
drift, for each learner algorithm beside a fixed model trained offline on the first records,
plotted to bench/out/learning.png — the figure the learner's claims rest on. Also the
learner's own speed (records learned per second, one record at a time)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from service.learning.algorithms import OnlineModel
from service.learning.prequential import Prequential

INPUTS = ("x0", "x1", "x2")
RECORDS = 20_000
FLIP_AT = 10_000
WINDOW = 500
EVERY = 250


def drifting_stream(count: int, seed: int = 3) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(count, len(INPUTS)))
    positive = features[:, 0] + 0.5 * features[:, 1] - 0.25 * features[:, 2] > 0
    positive[FLIP_AT:] = ~positive[FLIP_AT:]
    return features, ["a" if p else "b" for p in positive]


def curves() -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
    """Windowed prequential accuracy every EVERY records, per model; learning speed."""
    x, y = drifting_stream(RECORDS)
    out: dict[str, list[tuple[int, float]]] = {}
    speed: dict[str, float] = {}
    for algorithm in ("pa-classifier", "logistic-sgd"):
        model = OnlineModel(algorithm, INPUTS, ("a", "b"))
        quality = Prequential("classifier", WINDOW)
        points = []
        began = time.perf_counter()
        for start in range(0, RECORDS, EVERY):
            chunk = slice(start, start + EVERY)
            quality.record(model.test_then_train(x[chunk], y[chunk]), y[chunk])
            points.append((start + EVERY, quality.windowed() or 0.0))
        speed[algorithm] = RECORDS / (time.perf_counter() - began)
        out[algorithm] = points
    offline = LogisticRegression().fit(x[:1000], y[:1000])
    fixed = Prequential("classifier", WINDOW)
    points = []
    for start in range(0, RECORDS, EVERY):
        chunk = slice(start, start + EVERY)
        fixed.record(list(offline.predict(x[chunk])), y[chunk])
        points.append((start + EVERY, fixed.windowed() or 0.0))
    out["offline logistic (first 1,000 records)"] = points
    return out, speed


def plot(series: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name)
    ax.axvline(FLIP_AT, color="grey", linestyle=":", label="the label rule flips")
    ax.set_xlabel("feedback records")
    ax.set_ylabel(f"prequential accuracy, last {WINDOW}")
    ax.set_ylim(0, 1.02)
    ax.set_title("Online learners under concept drift, beside a fixed offline model")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(out: Path) -> dict[str, Any]:
    series, speed = curves()
    out.mkdir(exist_ok=True)
    plot(series, out / "learning.png")
    summary = {
        name: {
            "before flip": points[FLIP_AT // EVERY - 1][1],
            "just after": points[FLIP_AT // EVERY + 1][1],
            "end": points[-1][1],
        }
        for name, points in series.items()
    }
    return {"accuracy": summary, "learned per second": speed}


if __name__ == "__main__":
    import json

    print(json.dumps(run(Path(__file__).parent / "out"), indent=2))
