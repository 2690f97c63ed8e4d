"""Records a model cannot learn from — a label it does not know, a number too large, a step
that overflows — are refused one at a time, and the model is left exactly as if it had never
seen them: it learns on as a model that was never shown them does, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.learning.algorithms import MAX_MAGNITUDE, OnlineModel, UnlearnableError
from tests.learning.streams import CASES, INPUTS, Case, case_id, classes_for, new_model, stream
from tests.learning.test_algorithms import assert_same_learning


def records(case: Case, rows: int = 80) -> tuple[list[list[float]], list[Any]]:
    x, y = stream(classes_for(*case), rows, seed=3)
    return x.tolist(), y


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("at", [0, 40])
def test_a_huge_feature_is_refused_and_the_model_learns_on_as_without_it(
    case: Case, at: int
) -> None:
    rows, truths = records(case)
    model, never_shown = new_model(case), new_model(case)
    for row, truth in zip(rows[:at], truths[:at], strict=True):
        model.learn_one(row, truth)
    huge = [1e200, *rows[at][1:]]  # squared by the running variance: infinite
    with pytest.raises(UnlearnableError, match="within"):
        model.learn_one(huge, truths[at])
    for row, truth in zip(rows[at:], truths[at:], strict=True):
        model.learn_one(row, truth)
    never_shown.test_then_train(rows, truths)
    assert_same_learning(never_shown, model)


def test_a_label_it_does_not_know_or_a_target_too_large_is_refused() -> None:
    classifier = new_model(("logistic-sgd", False))
    with pytest.raises(UnlearnableError, match="'z' is not one of"):
        classifier.learn_one([0.0, 1.0, 2.0], "z")
    regressor = new_model(("sgd-regressor", False))
    with pytest.raises(UnlearnableError, match="targets must be within"):
        regressor.learn_one([0.0, 1.0, 2.0], 10 * MAX_MAGNITUDE)
    assert not classifier.ready() and not regressor.ready()


@pytest.mark.parametrize("first", [True, False])
def test_a_step_that_overflows_puts_the_model_back(first: bool) -> None:
    """A constant step of 1e300 overflows SGD itself (sklearn raises): the model is put back,
    to nothing learned when it was the first record."""
    x, y = stream(None, 10, seed=4)
    model = OnlineModel("sgd-regressor", INPUTS, learning_rate=1e300)
    if not first:
        model.learn_one(x[0].tolist(), y[0])  # from zero coefficients: a finite step
    before = model.state()
    with pytest.raises(UnlearnableError, match="overflow"):
        model.learn_one(x[1].tolist(), 1e10)
    assert model.state() == before and model.learned == (0 if first else 1)
    again = OnlineModel("sgd-regressor", INPUTS, learning_rate=1e300)
    if not first:
        again.learn_one(x[0].tolist(), y[0])
    assert_same_learning(again, model)


def test_a_state_that_would_not_be_finite_is_put_back() -> None:
    """Numbers within bounds can still overflow a state near its limits: the state as it was
    before the record is kept (here, a restored state with a huge variance already)."""
    x, y = stream(None, 3, seed=5)
    model = new_model(("pa-regressor", False))
    model.test_then_train(x[:2], y[:2])
    state = model.state()
    # Two records seen: their summed squares, 2e308, are past the largest double.
    state["scaler"]["var_"] = [1e308] * len(INPUTS)
    state["scaler"]["scale_"] = [1e154] * len(INPUTS)
    model = OnlineModel.from_state(state)
    with pytest.raises(UnlearnableError, match="infinite"):
        model.learn_one([1.0] * len(INPUTS), 1.0)
    assert model.state() == state


def test_in_a_batch_the_row_that_cannot_be_learned_is_named() -> None:
    x, y = stream(None, 5, seed=6)
    model = OnlineModel("sgd-regressor", INPUTS, learning_rate=1e300)
    targets = [y[0], 1e10, *y[2:]]
    with pytest.raises(UnlearnableError, match="row 1: learning it fails"):
        model.test_then_train(x, targets)
    assert model.learned == 1  # the row before it is learned; the model is as it was then
    assert np.isfinite(np.asarray(model.state()["model"]["coef_"])).all()
