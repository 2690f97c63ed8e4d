"""Online models: learning that depends only on the records and their order (not on how
they are grouped, nor on restarts from the saved state), and learning that works."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import cycle, pairwise
from typing import Any

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from service.learning.algorithms import ALGORITHMS, Algorithm, OnlineModel
from service.learning.prequential import Prequential
from service.learning.state import MAX_STATE_BYTES
from tests.learning.streams import (
    CASES,
    INPUTS,
    LABELS,
    Case,
    Matrix,
    case_id,
    classes_for,
    features,
    labels_of,
    new_model,
    stream,
    targets_of,
)

ROWS = 500
ROWS_3 = 200  # three classes: three binary fits a record
Answers = list[str | float | None]


def rows_of(case: Case) -> int:
    return ROWS_3 if case[1] else ROWS


def case_stream(case: Case, rows: int | None = None, seed: int = 0) -> tuple[Matrix, Any]:
    return stream(classes_for(*case), rows or rows_of(case), seed)


def learn_in_calls(
    model: OnlineModel, x: Matrix, y: Any, sizes: Iterator[int], start: int = 0
) -> Answers:
    """Records ``start`` to the end, in calls of the given sizes."""
    stop = len(x)
    answers: Answers = []
    while start < stop:
        end = min(start + next(sizes), stop)
        answers += model.test_then_train(x[start:end], y[start:end])
        start = end
    return answers


def assert_same_learning(a: OnlineModel, b: OnlineModel) -> None:
    """Every attribute scikit-learn keeps, bit for bit and of the same type."""
    assert a.learned == b.learned
    assert a.state() == b.state()
    for mine, theirs in ((a._model, b._model), (a._scaler, b._scaler)):
        assert vars(mine).keys() == vars(theirs).keys()
        for name, value in vars(mine).items():
            other = vars(theirs)[name]
            assert type(value) is type(other), name
            if isinstance(value, np.ndarray):
                assert value.dtype == other.dtype and np.array_equal(value, other), name
            elif isinstance(value, float | int | str | bool | np.generic) or value is None:
                assert value == other, name


@pytest.fixture(scope="module")
def uninterrupted() -> Callable[[Case], tuple[OnlineModel, Answers]]:
    """Each case's model after its records learned in one call, and its answers."""
    made: dict[Case, tuple[OnlineModel, Answers]] = {}

    def get(case: Case) -> tuple[OnlineModel, Answers]:
        if case not in made:
            x, y = case_stream(case)
            model = new_model(case)
            made[case] = (model, model.test_then_train(x, y))
        return made[case]

    return get


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_grouping_records_into_calls_changes_nothing(
    case: Case, uninterrupted: Callable[[Case], tuple[OnlineModel, Answers]]
) -> None:
    whole, whole_answers = uninterrupted(case)
    x, y = case_stream(case)
    grouped = new_model(case)
    answers = learn_in_calls(grouped, x, y, cycle([7, 1, 100, 13, 1, 64]))
    assert answers == whole_answers
    assert answers[0] is None and None not in answers[1:]
    assert_same_learning(whole, grouped)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_restarted_learner_learns_on_identically(
    case: Case, uninterrupted: Callable[[Case], tuple[OnlineModel, Answers]]
) -> None:
    whole, whole_answers = uninterrupted(case)
    x, y = case_stream(case)
    model = new_model(case)
    answers: Answers = []
    bounds = [0, 1, 137, 160, rows_of(case)]  # restarted after the first record and twice more
    for start, stop in pairwise(bounds):
        # Through JSON text, as the state travels in a descriptor's metadata.
        model = OnlineModel.from_state(json.loads(json.dumps(model.state())))
        answers += learn_in_calls(model, x[:stop], y[:stop], cycle([50]), start)
    assert answers == whole_answers
    assert_same_learning(whole, model)
    fresh = features(200, seed=99)
    assert np.array_equal(np.asarray(model.predict(fresh)), np.asarray(whole.predict(fresh)))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_predictions_are_the_sklearn_pipelines(
    case: Case, uninterrupted: Callable[[Case], tuple[OnlineModel, Answers]]
) -> None:
    model, _ = uninterrupted(case)
    pipeline = Pipeline([("scaler", model._scaler), ("model", model._model)])
    fresh = features(300, seed=5)
    assert np.array_equal(np.asarray(model.predict(fresh)), pipeline.predict(fresh))


def test_the_state_of_a_model_that_learned_nothing() -> None:
    model = new_model(("logistic-sgd", False))
    state = json.loads(json.dumps(model.state()))
    assert state["learned"] == 0 and state["model"] is None
    restored = OnlineModel.from_state(state)
    assert not restored.ready()
    x, y = case_stream(("logistic-sgd", False), rows=20)
    assert restored.test_then_train(x, y) == model.test_then_train(x, y)


def test_the_state_names_what_partial_fit_needs() -> None:
    model = new_model(("pa-classifier", True))
    x, y = case_stream(("pa-classifier", True), rows=30)
    model.test_then_train(x, y)
    state = model.state()
    assert state["algorithm"] == "pa-classifier" and state["learned"] == 30
    assert state["inputs"] == list(INPUTS) and state["learning_rate"] is None
    assert set(state["scaler"]) == {"mean_", "var_", "scale_", "n_samples_seen_"}
    assert set(state["model"]) == {"coef_", "intercept_", "t_", "classes_"}
    assert np.array(state["model"]["coef_"]).shape == (3, 3)  # one-vs-rest: a row per class
    assert state["model"]["t_"] == 31.0


@pytest.mark.parametrize(("algorithm", "flip_at"), [("pa-classifier", 600), ("logistic-sgd", 600)])
def test_classifiers_recover_from_drift(algorithm: Algorithm, flip_at: int) -> None:
    x = features(2 * flip_at, seed=7)
    y = labels_of(x, flip_at)
    model = OnlineModel(algorithm, INPUTS, LABELS)
    quality = Prequential("classifier", window=100)
    windowed: list[float] = []
    for start in range(0, len(x), 100):
        answers = model.test_then_train(x[start : start + 100], y[start : start + 100])
        quality.record(answers, y[start : start + 100])
        windowed.append(quality.windowed() or 0.0)
    before, just_after, end = windowed[flip_at // 100 - 1], windowed[flip_at // 100], windowed[-4:]
    assert before > 0.9  # it learned the rule
    assert just_after < 0.85 and just_after < before - 0.1  # the flip hurt
    assert min(end) > 0.85  # and it learned the new rule


@pytest.mark.parametrize("algorithm", ["pa-regressor", "sgd-regressor"])
def test_regressors_learn(algorithm: Algorithm) -> None:
    x = features(1000, seed=7)
    y = targets_of(x, seed=7)
    model = OnlineModel(algorithm, INPUTS)
    quality = Prequential("regressor", window=100)
    windowed: list[float] = []
    for start in range(0, len(x), 100):
        answers = model.test_then_train(x[start : start + 100], y[start : start + 100])
        quality.record(answers, y[start : start + 100])
        windowed.append(quality.windowed() or 0.0)
    assert windowed[-1] < windowed[0] / 2
    assert windowed[-1] < 0.4  # the noise alone is an MAE of 0.08


def test_a_bad_learning_rate_learns_much_worse() -> None:
    x = features(600, seed=7)
    y = labels_of(x)
    scores = {}
    for rate in (None, 1e4):
        model = OnlineModel("logistic-sgd", INPUTS, LABELS, learning_rate=rate)
        quality = Prequential("classifier", window=300)
        quality.record(model.test_then_train(x, y), y)
        scores[rate] = quality.windowed() or 0.0
    assert scores[None] > 0.9
    assert scores[1e4] < 0.75  # steps so large the model swings from one side to the other


def test_the_learning_rate_is_pa_aggressiveness_or_a_constant_sgd_step() -> None:
    params = {
        (a, r): OnlineModel(a, INPUTS, classes_for(a), r)._model.get_params()
        for a in ALGORITHMS
        for r in (None, 0.5)
    }
    for pa in ("pa-classifier", "pa-regressor"):
        assert params[(pa, None)]["learning_rate"] == "pa1" and params[(pa, None)]["eta0"] == 1.0
        assert params[(pa, 0.5)]["eta0"] == 0.5 and params[(pa, 0.5)]["penalty"] is None
    assert params[("logistic-sgd", None)]["learning_rate"] == "optimal"
    assert params[("sgd-regressor", None)]["learning_rate"] == "invscaling"
    for sgd in ("logistic-sgd", "sgd-regressor"):
        assert params[(sgd, 0.5)]["learning_rate"] == "constant"
        assert params[(sgd, 0.5)]["eta0"] == 0.5
    for p in params.values():
        assert p["shuffle"] is False and p["random_state"] == 0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("nope", INPUTS, None), "unknown algorithm"),
        (("logistic-sgd", INPUTS, None), "needs its classes"),
        (("logistic-sgd", INPUTS, ["a"]), "two or more"),
        (("logistic-sgd", INPUTS, ["a", "a"]), "two or more"),
        (("sgd-regressor", INPUTS, ["a", "b"]), "no classes"),
        (("sgd-regressor", [], None), "at least one feature"),
        (("sgd-regressor", ["x", "x"], None), "each once"),
        (("sgd-regressor", INPUTS, None, 0.0), "positive"),
        (("pa-regressor", INPUTS, None, float("nan")), "positive"),
    ],
)
def test_refuses_what_it_cannot_learn_with(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OnlineModel(*args)


def test_bad_records_leave_the_model_untouched() -> None:
    model = OnlineModel("logistic-sgd", INPUTS, LABELS)
    rows = features(3, seed=1)
    with pytest.raises(ValueError, match="not one of"):
        model.test_then_train(rows, ["a", "b", "z"])
    with pytest.raises(ValueError, match="finite"):
        model.test_then_train(np.where(rows > 1, np.nan, rows), ["a", "b", "a"])
    with pytest.raises(ValueError, match="rows × 3"):
        model.test_then_train(rows[:, :2], ["a", "b", "a"])
    with pytest.raises(ValueError, match="3 targets for 2 rows"):
        model.test_then_train(rows[:2], ["a", "b", "a"])
    assert model.learned == 0 and not model.ready()
    with pytest.raises(ValueError, match="learned nothing"):
        model.predict(rows)
    with pytest.raises(ValueError, match="finite"):
        OnlineModel("sgd-regressor", INPUTS).test_then_train(rows, [1.0, float("inf"), 2.0])


def test_a_state_too_big_for_metadata_is_refused() -> None:
    width = 5000  # four arrays of 5000 doubles as JSON text: over 256 KiB
    model = OnlineModel("sgd-regressor", [f"f{i}" for i in range(width)])
    # Two records: after one, the variances and scales are all 0.0 and 1.0, short as text.
    model.test_then_train(np.random.default_rng(0).normal(size=(2, width)), [1.0, 2.0])
    with pytest.raises(ValueError, match=f"more than the {MAX_STATE_BYTES}"):
        model.state()


def test_refuses_a_state_of_an_unknown_format() -> None:
    state = new_model(("pa-regressor", False)).state()
    with pytest.raises(ValueError, match="format"):
        OnlineModel.from_state({**state, "format": 99})
