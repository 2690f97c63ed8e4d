"""The online algorithms: what each accepts, and the scikit-learn estimator behind it,
configured so that the same records in the same order always learn the same model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, get_args

from sklearn.linear_model import SGDClassifier, SGDRegressor

from service.learning.gate import Kind

Algorithm = Literal["pa-classifier", "logistic-sgd", "pa-regressor", "sgd-regressor"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)

RANDOM_STATE = 0
DEFAULT_C = 1.0  # PassiveAggressiveClassifier's default aggressiveness


def checked_kind(
    algorithm: str,
    inputs: Sequence[str],
    classes: Sequence[str] | None,
    learning_rate: float | None,
) -> Kind:
    """Whether ``algorithm`` classifies or regresses; ValueError if it cannot be learned with
    these inputs, classes and learning rate."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")
    if not inputs or len(set(inputs)) != len(inputs):
        raise ValueError("inputs must name at least one feature, each once")
    kind: Kind = "classifier" if algorithm in ("pa-classifier", "logistic-sgd") else "regressor"
    if kind == "classifier":
        if classes is None:
            raise ValueError(f"{algorithm} needs its classes (labels) up front")
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValueError(f"a classifier needs two or more distinct classes, not {classes}")
    elif classes is not None:
        raise ValueError(f"{algorithm} is a regressor: it has no classes")
    if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"the learning rate must be a positive number, not {learning_rate}")
    return kind


def estimator(algorithm: str, learning_rate: float | None) -> Any:
    # No shuffling, a fixed seed: the same records in the same order learn the same model.
    fixed: dict[str, Any] = {"shuffle": False, "random_state": RANDOM_STATE}
    schedule: dict[str, Any] = (
        {} if learning_rate is None else {"learning_rate": "constant", "eta0": learning_rate}
    )
    aggressiveness = DEFAULT_C if learning_rate is None else learning_rate
    if algorithm == "pa-classifier":
        # PassiveAggressiveClassifier is deprecated; this is its documented replacement.
        return SGDClassifier(
            loss="hinge", penalty=None, learning_rate="pa1", eta0=aggressiveness, **fixed
        )
    if algorithm == "logistic-sgd":
        return SGDClassifier(loss="log_loss", **schedule, **fixed)
    if algorithm == "pa-regressor":
        # sklearn accepts pa1 for SGDRegressor with the epsilon-insensitive loss (epsilon 0.1,
        # as PassiveAggressiveRegressor's default).
        return SGDRegressor(
            loss="epsilon_insensitive",
            penalty=None,
            learning_rate="pa1",
            eta0=aggressiveness,
            **fixed,
        )
    return SGDRegressor(loss="squared_error", **schedule, **fixed)
