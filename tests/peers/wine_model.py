"""The scikit-learn wine classifier that MLServer serves in the tests, trained in the
``mlserver`` peer environment (train_wine.py), and what it answers for every row of the wine
data, to hold an answer that came through a server against."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tests.peers.envs import REPO

WINE_CSV = REPO / "service" / "data" / "winequality_red.csv"
TRAINER = Path(__file__).with_name("train_wine.py")


@dataclass(frozen=True)
class WineModel:
    """``folder`` holds ``model.joblib`` and ``expected.json``."""

    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "model.joblib"

    @cached_property
    def _expected(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.folder / "expected.json").read_text())
        return loaded

    @property
    def sklearn_version(self) -> str:
        return str(self._expected["sklearn"])

    @property
    def classes(self) -> list[int]:
        return [int(c) for c in self._expected["classes"]]

    @property
    def features(self) -> list[list[float]]:
        """Every row's 11 features, as the trainer parsed them (float64)."""
        return [[float(v) for v in row] for row in self._expected["features"]]

    @property
    def predict(self) -> list[int]:
        """The class the model gives each row of ``features``."""
        return [int(c) for c in self._expected["predict"]]

    @property
    def predict_proba(self) -> list[list[float]]:
        """Each row's probabilities, in the order of ``classes``."""
        return [[float(p) for p in row] for row in self._expected["predict_proba"]]


def train_wine_model(
    python: Path, folder: Path, timeout_s: float = 120.0, kind: str = "forest"
) -> WineModel:
    """Fits the model with ``python`` (``peer_python("mlserver")``) into ``folder``: the
    forest, or with ``kind="linear"`` a standardised logistic regression."""
    # -I: the peer's own packages only (no PYTHONPATH, no user site, not this folder).
    completed = subprocess.run(
        [str(python), "-I", str(TRAINER), str(WINE_CSV), str(folder), kind],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"training the wine model failed: {completed.stderr[-2000:]}")
    return WineModel(folder)
