"""Prequential (test-then-train) quality: every record is predicted before it is learned, so
each prediction is an honest test on data the model has not seen. Overall and over a sliding
window of the most recent records, which is what shows drift and recovery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.learning.gate import Kind, judge


class Prequential:
    """Accuracy (classifier) or mean absolute error (regressor). Kept as a running total and a
    ring buffer of the last ``window`` per-record figures (hit 1/0, or absolute error)."""

    def __init__(self, kind: Kind, window: int = 1000) -> None:
        if window < 1:
            raise ValueError(f"the window must hold at least one record, not {window}")
        self.kind: Kind = kind
        self.window = window
        self.count = 0
        self._total = 0.0
        self._recent = np.zeros(window, dtype=np.float64)
        self._next = 0  # the ring's oldest slot once it is full

    def record(
        self, predicted: Sequence[str | float | None], actual: Sequence[str | float]
    ) -> None:
        """One figure per prediction; None (the model could not predict yet) is not counted."""
        if len(predicted) != len(actual):
            raise ValueError(f"{len(predicted)} predictions for {len(actual)} truths")
        figures = self._figures(predicted, actual)
        if figures.size == 0:
            return
        self.count += int(figures.size)
        self._total += float(figures.sum())
        # More figures than the window: the older ones would be overwritten anyway.
        tail = figures[-self.window :]
        slots = (self._next + np.arange(tail.size)) % self.window
        self._recent[slots] = tail
        self._next = int((self._next + tail.size) % self.window)

    def _figures(
        self, predicted: Sequence[str | float | None], actual: Sequence[str | float]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        pairs = [(p, a) for p, a in zip(predicted, actual, strict=True) if p is not None]
        if self.kind == "classifier":
            hits = (1.0 if str(p) == str(a) else 0.0 for p, a in pairs)
            return np.fromiter(hits, dtype=np.float64, count=len(pairs))
        errors = (abs(float(p) - float(a)) for p, a in pairs)
        return np.fromiter(errors, dtype=np.float64, count=len(pairs))

    def overall(self) -> float | None:
        return self._total / self.count if self.count else None

    def windowed(self) -> float | None:
        filled = min(self.count, self.window)
        # Until the ring is full, slots fill from 0 and the rest are unused zeros.
        return float(self._recent[:filled].mean()) if filled else None

    def better_or_equal(self, other: float | None, max_regression: float) -> bool:
        """Whether this windowed figure passes the gate against ``other`` (the serving one)."""
        return judge(self.kind, self.windowed(), other, max_regression).publish

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": "accuracy" if self.kind == "classifier" else "mae",
            "overall": self.overall(),
            "windowed": self.windowed(),
            "count": self.count,
            "window": self.window,
        }
