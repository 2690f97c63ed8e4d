"""Form 1: a small deterministic classifier of red wines, a logistic rule on alcohol, volatile
acidity and sulphates, whose cut-off comes from the descriptor's metadata."""

from __future__ import annotations

import math
from typing import Any

__version__ = "1.2.0"

CLASSES = ("good", "plain")


class WineRules:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def score(self, alcohol: float, volatile_acidity: float, sulphates: float) -> dict[str, Any]:
        z = alcohol - self.threshold - 2.0 * volatile_acidity + sulphates
        good = 1.0 / (1.0 + math.exp(-z))
        probabilities = {"good": good, "plain": 1.0 - good}
        return {
            "label": max(probabilities, key=probabilities.__getitem__),
            "probabilities": probabilities,
        }

    def predict(self, frame: Any) -> list[dict[str, Any]]:
        return [
            self.score(float(a), float(v), float(s))
            for a, v, s in zip(
                frame["alcohol"], frame["volatile_acidity"], frame["sulphates"], strict=True
            )
        ]


def make(artifact: bytes | None, metadata: dict[str, Any]) -> WineRules:
    return WineRules(float(metadata.get("alcohol_threshold", 10.5)))


def regressor(artifact: bytes | None, metadata: dict[str, Any]) -> Quality:
    """The same data, answered as a number (a quality estimate)."""
    return Quality()


class Quality:
    def predict(self, frame: Any) -> list[dict[str, Any]]:
        return [
            {"value": 3.0 + 0.3 * float(a) - 1.5 * float(v)}
            for a, v in zip(frame["alcohol"], frame["volatile_acidity"], strict=True)
        ]
