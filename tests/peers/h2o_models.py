"""H2O MOJOs and H2O's own predictions for them, made in the ``h2o`` peer environment
(train_h2o.py: one local H2O for every model), for the service's H2O runtime to be held
against; and the genmodel jar of that environment, which the service's tests score with."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

TRAINER = Path(__file__).with_name("train_h2o.py")


@dataclass(frozen=True)
class H2oModels:
    """``folder`` holds ``<name>.zip`` per model and ``expected.json``."""

    folder: Path
    jar: Path  # the peer environment's h2o.jar (H2O's genmodel classes among the rest)

    @cached_property
    def expected(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.folder / "expected.json").read_text())
        return loaded

    def mojo(self, name: str) -> bytes:
        return (self.folder / f"{name}.zip").read_bytes()

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The test rows: None for a missing value, "purple" and "XXL" never seen."""
        rows: list[dict[str, Any]] = self.expected["rows"]
        return rows

    def answers(self, name: str) -> dict[str, Any]:
        """H2O's: ``predict`` (labels, or values), ``classes``, ``probabilities``."""
        answers: dict[str, Any] = self.expected["models"][name]
        return answers


def train_h2o_models(python: Path, folder: Path, timeout_s: float = 300.0) -> H2oModels:
    """Trains and exports the models with ``python`` (``peer_python("h2o")``)."""
    subprocess.run(
        [str(python), "-I", str(TRAINER), str(folder)],
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )
    jars = list(python.parent.parent.glob("lib/python3*/site-packages/h2o/backend/bin/h2o.jar"))
    assert jars, f"no h2o.jar in {python.parent.parent}"
    return H2oModels(folder, jars[0])
