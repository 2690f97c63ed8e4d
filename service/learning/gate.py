"""Whether a newly learned version may replace the serving one: not when its windowed
prequential score is worse than the serving version's by more than a set tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["classifier", "regressor"]


@dataclass(frozen=True)
class Verdict:
    publish: bool
    reason: str


def measure_name(kind: Kind) -> str:
    """Accuracy (higher is better) for a classifier, MAE (lower is better) for a regressor."""
    return "accuracy" if kind == "classifier" else "MAE"


def judge(
    kind: Kind, candidate: float | None, serving: float | None, max_regression: float
) -> Verdict:
    """Publish unless the candidate has no figure yet or is worse than the serving version by
    more than ``max_regression``; with no serving figure there is nothing to compare with."""
    if max_regression < 0:
        raise ValueError(f"max_regression must be 0 or more, not {max_regression}")
    name = measure_name(kind)
    if candidate is None:
        return Verdict(False, f"the candidate has no {name} yet: nothing it has predicted")
    if serving is None:
        return Verdict(
            True, f"no {name} of a serving version yet; the candidate's is {candidate:.4g}"
        )
    if kind == "classifier":
        worse = candidate < serving - max_regression
    else:
        worse = candidate > serving + max_regression
    if worse:
        return Verdict(
            False,
            f"the candidate's {name} {candidate:.4g} is worse than the serving version's "
            f"{serving:.4g} by more than {max_regression:.4g}",
        )
    return Verdict(
        True,
        f"the candidate's {name} {candidate:.4g} against the serving version's {serving:.4g} "
        f"(at most {max_regression:.4g} worse allowed)",
    )
