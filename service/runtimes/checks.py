"""Never a wrong answer published silently: the checks every runtime's answers pass before
they are published (scoring/predictions.py applies them). A row whose probabilities are NaN,
missing, negative or do not sum to 1, or whose value is not a finite number, is refused with
the engine named; the loader refuses a model whose warm-up row fails, and the engine
dead-letters such rows when scoring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.runtimes.base import BatchResult, RuntimeInfo
from service.untrusted import preview

PROBABILITY_SUM_TOLERANCE = 1e-6
# Probabilities computed in float32 (onnxruntime's tree ensembles) are each a float32 sum over
# every tree, rounded at each step: a 2,000-tree forest answers sums 3.4e-6 off 1, which is
# honest rounding, not a wrong answer. 1e-4 is met by a float32 sum of any realistic number of
# terms (its rounding grows about as √n · 2⁻²⁴; it reaches 1e-4 only if thousands of
# roundings all go one way), and still refuses a sum that is off for a reason.
FLOAT32_SUM_TOLERANCE = 1e-4


def sum_tolerance(dtype: np.dtype[Any], classes: int) -> float:
    """1e-6 for float64 probabilities; for float32 (or coarser) ones, ``FLOAT32_SUM_TOLERANCE``
    or a few ulps per class, whichever is larger."""
    if np.issubdtype(dtype, np.floating):
        eps = float(np.finfo(dtype).eps)
        if eps > float(np.finfo(np.float64).eps):
            return max(FLOAT32_SUM_TOLERANCE, 4.0 * classes * eps)
    return PROBABILITY_SUM_TOLERANCE


def row_problems(result: BatchResult) -> dict[int, str]:
    """Why each refused row is refused (row index → reason); empty when all rows pass. Work
    is per batch (whole-matrix tests); only refused rows cost a Python step."""
    problems = {**result.answer_problems, **result.row_errors}
    if result.kind == "classifier" and result.probabilities is not None:
        given = np.asarray(result.probabilities)
        matrix = np.asarray(given, dtype=np.float64).reshape(result.size, -1)
        tolerance = sum_tolerance(given.dtype, matrix.shape[1])
        finite = np.isfinite(matrix)
        sums = np.where(finite, matrix, 0.0).sum(axis=1)
        good = finite.all(axis=1) & (matrix >= 0.0).all(axis=1) & (np.abs(sums - 1.0) <= tolerance)
        classes = list(result.classes or range(matrix.shape[1]))
        for i in np.flatnonzero(~good).tolist():
            problems.setdefault(i, _probability_problem(matrix[i], classes, float(sums[i])))
        if result.labels is not None and result.classes:
            for i, why in _labels_outside(result.labels, result.classes).items():
                problems.setdefault(i, why)
    elif result.kind == "classifier" and result.scores is not None:
        scores = np.asarray(result.scores, dtype=np.float64).reshape(result.size, -1)
        for i in np.flatnonzero(~np.isfinite(scores).all(axis=1)).tolist():
            problems.setdefault(i, f"returned the scores {scores[i].tolist()}, not all numbers")
        if result.labels is not None and result.classes:
            for i, why in _labels_outside(result.labels, result.classes).items():
                problems.setdefault(i, why)
    elif result.kind == "regressor" and result.values is not None:
        values = np.asarray(result.values, dtype=np.float64).reshape(result.size, -1)
        for i in np.flatnonzero(~np.isfinite(values).all(axis=1)).tolist():
            problems.setdefault(i, f"returned the value {values[i].tolist()}, not a number")
    elif result.kind == "outputs" and result.outputs is not None:
        for i, outputs in enumerate(result.outputs):
            if not _all_finite(outputs):
                problems.setdefault(i, "returned outputs that are NaN, infinite or missing")
    return problems


def _labels_outside(labels: Sequence[Any], classes: Sequence[Any]) -> dict[int, str]:
    """Rows whose label is not one of the probability keys: a label and probabilities that
    disagree are never published. A batch has few distinct labels, so the usual batch costs
    one set per batch."""
    known = {str(c) for c in classes}
    try:
        if {str(label) for label in set(labels)} <= known:
            return {}
    except TypeError:  # unhashable labels: row by row
        pass
    shown = ", ".join(sorted(known)[:10])
    return {
        i: f"answered the label {preview(label)}, which is not among its classes ({shown})"
        for i, label in enumerate(labels)
        if str(label) not in known
    }


def refusal(runtime: RuntimeInfo, why: str) -> str:
    text = f"{runtime} {why}"
    return f"{text}; {runtime.hint}" if runtime.hint else text


def _probability_problem(row: np.ndarray[Any, Any], classes: Sequence[object], total: float) -> str:
    bad = [str(c) for c, p in zip(classes, row.tolist(), strict=True) if not np.isfinite(p)]
    shown = ", ".join(f"{c!r}: {p!r}" for c, p in zip(classes, row.tolist(), strict=True))
    if bad:
        return f"returned probabilities NaN or missing for class {', '.join(bad)} ({{{shown}}})"
    if (row < 0.0).any():
        return f"returned negative probabilities ({{{shown}}})"
    return f"returned probabilities that sum to {total!r}, not 1 ({{{shown}}})"


def _all_finite(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return bool(np.isfinite(value))
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    return True
