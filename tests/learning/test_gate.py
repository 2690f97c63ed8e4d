"""The publishing gate: no worse than the serving version, within a tolerance."""

from __future__ import annotations

import pytest

from service.learning.gate import Verdict, judge


def test_publishes_when_nothing_serving_has_a_figure() -> None:
    verdict = judge("classifier", 0.7, None, 0.02)
    assert verdict.publish
    assert "0.7" in verdict.reason


def test_holds_back_a_candidate_without_a_figure() -> None:
    for serving in (None, 0.9):
        verdict = judge("classifier", None, serving, 0.02)
        assert verdict == Verdict(False, verdict.reason)
        assert "no accuracy yet" in verdict.reason


@pytest.mark.parametrize(
    ("candidate", "serving", "publish"),
    [(0.95, 0.9, True), (0.89, 0.9, True), (0.88, 0.9, True), (0.87, 0.9, False)],
)
def test_accuracy_may_fall_by_at_most_the_tolerance(
    candidate: float, serving: float, publish: bool
) -> None:
    verdict = judge("classifier", candidate, serving, 0.02)
    assert verdict.publish is publish
    assert str(candidate) in verdict.reason and str(serving) in verdict.reason
    if not publish:
        assert "worse than the serving version's 0.9 by more than 0.02" in verdict.reason


@pytest.mark.parametrize(
    ("candidate", "serving", "publish"),
    [(0.4, 0.5, True), (0.52, 0.5, True), (0.53, 0.5, False)],
)
def test_mae_may_rise_by_at_most_the_tolerance(
    candidate: float, serving: float, publish: bool
) -> None:
    verdict = judge("regressor", candidate, serving, 0.02)
    assert verdict.publish is publish
    assert "MAE" in verdict.reason and str(candidate) in verdict.reason


def test_no_tolerance_means_no_worse() -> None:
    assert judge("classifier", 0.9, 0.9, 0.0).publish
    assert not judge("classifier", 0.899, 0.9, 0.0).publish
    assert not judge("regressor", 0.501, 0.5, 0.0).publish


def test_refuses_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="max_regression"):
        judge("classifier", 0.9, 0.9, -0.1)
