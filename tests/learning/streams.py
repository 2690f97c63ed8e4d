"""Synthetic feedback streams with fixed seeds: a linear classification rule (optionally
flipped part-way, to drift), a three-class one, and a noisy linear regression."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from service.learning.algorithms import ALGORITHMS, Algorithm, OnlineModel

INPUTS = ("x0", "x1", "x2")
LABELS = ("a", "b")
THREE_LABELS = ("a", "b", "c")

Matrix = npt.NDArray[np.float64]

Case = tuple[Algorithm, bool]  # the algorithm, and three classes rather than two
CASES: list[Case] = [(a, False) for a in ALGORITHMS] + [
    ("pa-classifier", True),
    ("logistic-sgd", True),
]


def features(rows: int, seed: int) -> Matrix:
    # Unequal scales and offsets, so that the running scaler has something to do.
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]


def _standard(x: Matrix) -> tuple[Matrix, Matrix]:
    return x[:, 0], (x[:, 1] - 5.0) / 10.0


def labels_of(x: Matrix, flip_at: int | None = None) -> list[str]:
    """ "a" when x0 + x1 (standardised) > 0, else "b"; the other way round from ``flip_at``."""
    x0, x1 = _standard(x)
    rule = x0 + x1 > 0
    if flip_at is not None:
        rule[flip_at:] = ~rule[flip_at:]
    return ["a" if a else "b" for a in rule.tolist()]


def three_labels_of(x: Matrix) -> list[str]:
    """ "a", "b" or "c": whichever of x0, x1 and -(x0 + x1) (standardised) is largest."""
    x0, x1 = _standard(x)
    scores = np.column_stack([x0, x1, -(x0 + x1)])
    return [THREE_LABELS[i] for i in scores.argmax(axis=1).tolist()]


def targets_of(x: Matrix, seed: int) -> list[float]:
    noise = np.random.default_rng(seed + 1).normal(0.0, 0.1, size=x.shape[0])
    return [float(v) for v in x @ [2.0, -0.1, 5.0] + 3.0 + noise]


def classes_for(algorithm: Algorithm, three: bool = False) -> tuple[str, ...] | None:
    if algorithm not in ("pa-classifier", "logistic-sgd"):
        return None
    return THREE_LABELS if three else LABELS


def stream(
    classes: tuple[str, ...] | None, rows: int, seed: int
) -> tuple[Matrix, list[str] | list[float]]:
    """Features and the truth for a model with these classes (None: a regressor)."""
    x = features(rows, seed)
    if classes is None:
        return x, targets_of(x, seed)
    return x, (three_labels_of(x) if len(classes) == 3 else labels_of(x))


def case_id(case: Case) -> str:
    algorithm, three = case
    return f"{algorithm}-3-classes" if three else algorithm


def new_model(case: Case, learning_rate: float | None = None) -> OnlineModel:
    algorithm, three = case
    return OnlineModel(algorithm, INPUTS, classes_for(algorithm, three), learning_rate)
