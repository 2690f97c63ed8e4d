"""What a learner is told to do (``modelserve learn``'s flags), checked when it is built: a bad
value is refused before any client starts, not found out at the first version due."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.learning.estimators import Algorithm, checked_kind


@dataclass(frozen=True)
class LearnerOptions:
    name: str
    data_type: str
    algorithm: Algorithm
    inputs: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    learning_rate: float | None = None
    publish_every: int = 1000
    publish_interval_s: float = 10.0
    max_regression: float = 0.02
    window: int = 1000

    def __post_init__(self) -> None:
        """ValueError (one line, naming the flag) for a value the learner cannot run with."""
        if not self.name:
            raise ValueError("--name must not be empty")
        if not self.data_type:
            raise ValueError("--data-type must not be empty")
        # The algorithm, inputs, labels and learning rate: the checks the model makes.
        checked_kind(self.algorithm, self.inputs, self.labels, self.learning_rate)
        if isinstance(self.publish_every, bool) or self.publish_every < 1:
            raise ValueError(f"--publish-every must be 1 or more, not {self.publish_every}")
        if not (math.isfinite(self.publish_interval_s) and self.publish_interval_s > 0):
            raise ValueError(
                f"--publish-interval-s must be a positive number, not {self.publish_interval_s}"
            )
        if not (math.isfinite(self.max_regression) and self.max_regression >= 0):
            raise ValueError(
                f"--max-regression must be a number of 0 or more, not {self.max_regression}"
            )
        if isinstance(self.window, bool) or self.window < 1:
            raise ValueError(f"--window must be 1 or more, not {self.window}")
