"""Prequential figures: accuracy or MAE, overall and over a sliding window."""

from __future__ import annotations

import numpy as np
import pytest

from service.learning.prequential import Prequential


def test_nothing_counted_means_no_figure() -> None:
    quality = Prequential("classifier", window=3)
    assert quality.overall() is None and quality.windowed() is None
    quality.record([None, None], ["a", "b"])  # the model could not predict yet
    assert quality.count == 0 and quality.windowed() is None
    assert quality.as_dict() == {
        "measure": "accuracy",
        "overall": None,
        "windowed": None,
        "count": 0,
        "window": 3,
    }


def test_accuracy_skips_records_not_predicted() -> None:
    quality = Prequential("classifier", window=10)
    quality.record([None, "a", "b", "a", "a"], ["a", "a", "a", "a", "b"])
    assert quality.count == 4
    assert quality.overall() == 0.5 and quality.windowed() == 0.5


def test_the_window_holds_the_most_recent_records() -> None:
    quality = Prequential("classifier", window=4)
    quality.record(["a"] * 6, ["b"] * 6)  # six misses
    quality.record(["a"] * 3, ["a"] * 3)  # three hits, wrapping round the ring
    assert quality.count == 9
    assert quality.windowed() == 0.75  # miss, hit, hit, hit
    assert quality.overall() == pytest.approx(3 / 9)


def test_a_batch_larger_than_the_window() -> None:
    quality = Prequential("classifier", window=3)
    quality.record(["a"], ["b"])
    quality.record(["a"] * 10, ["a"] * 8 + ["b"] * 2)
    assert quality.windowed() == pytest.approx(1 / 3)
    quality.record(["a"], ["a"])
    assert quality.windowed() == pytest.approx(1 / 3)  # a hit out, a hit in: miss, miss, hit
    assert quality.overall() == pytest.approx(9 / 12)


def test_mean_absolute_error_of_a_regressor() -> None:
    quality = Prequential("regressor", window=2)
    quality.record([None, 1.0, 2.0, 5.0], [0.0, 1.5, 1.0, 5.0])
    assert quality.count == 3
    assert quality.overall() == pytest.approx(0.5)  # 0.5, 1.0, 0.0
    assert quality.windowed() == pytest.approx(0.5)  # 1.0, 0.0
    assert quality.as_dict()["measure"] == "mae"


def test_matches_a_plain_computation_over_many_batches() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.normal(size=1234)
    actual = rng.normal(size=1234)
    quality = Prequential("regressor", window=100)
    for start in range(0, 1234, 37):
        quality.record(predicted[start : start + 37].tolist(), actual[start : start + 37].tolist())
    errors = np.abs(predicted - actual)
    assert quality.overall() == pytest.approx(errors.mean())
    assert quality.windowed() == pytest.approx(errors[-100:].mean())


def test_better_or_equal_applies_the_gate() -> None:
    accuracy = Prequential("classifier", window=10)
    assert not accuracy.better_or_equal(0.5, 0.02)  # no figure of its own yet
    accuracy.record(["a"] * 9 + ["b"], ["a"] * 10)  # 0.9
    assert accuracy.better_or_equal(None, 0.02)
    assert accuracy.better_or_equal(0.91, 0.02)
    assert not accuracy.better_or_equal(0.95, 0.02)
    error = Prequential("regressor", window=10)
    error.record([1.0, 2.0], [1.5, 2.5])  # MAE 0.5
    assert error.better_or_equal(0.49, 0.02)
    assert not error.better_or_equal(0.4, 0.02)


def test_refuses_a_window_of_nothing_and_unpaired_figures() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Prequential("classifier", window=0)
    with pytest.raises(ValueError, match="2 predictions for 1 truths"):
        Prequential("classifier").record(["a", "b"], ["a"])
