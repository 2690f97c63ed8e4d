"""What a restarted learner resumes from: the latest version's learner metadata, checked
before it is trusted, and the flags it runs with, which must describe the same model (only
the learning rate may change). Each refusal is one line naming what is wrong."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from service.learning.algorithms import OnlineModel
from service.learning.learner import LearnerOptions
from service.learning.restore import CannotResumeError, Restored, restored_from
from service.learning.resume import starting_model
from service.learning.state import MAX_STATE_BYTES
from tests.learner_helpers import INPUTS, options, stream


def learned_state(algorithm: str = "logistic-sgd", learning_rate: float | None = None) -> Any:
    x, y = stream(30, seed=13)
    model = OnlineModel(algorithm, INPUTS, ("a", "b"), learning_rate)  # type: ignore[arg-type]
    model.test_then_train(x, y)
    return model.state()


def descriptor(state: Any, offsets: Any = None, version: Any = 3) -> dict[str, Any]:
    return {
        "name": "online",
        "version": version,
        "dataType": "synth",
        "metadata": {"learner": {"state": state, "feedbackOffsets": offsets or {"0": 30}}},
    }


def resumed(state: Any, **flags: Any) -> OnlineModel:
    flags.setdefault("algorithm", "logistic-sgd")
    return starting_model(restored_from(descriptor(state)), options(**flags))


def refusal(state: Any, **flags: Any) -> str:
    with pytest.raises(CannotResumeError) as caught:
        resumed(state, **flags)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_same_flags_resume_the_state_as_it_was() -> None:
    state = learned_state()
    restored = restored_from(descriptor(state))
    assert restored == Restored(3, state, {0: 30}, "synth")
    assert resumed(state).state() == state
    assert resumed(state, labels=("b", "a")).state() == state  # partial_fit sorts the classes


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"algorithm": "pa-classifier"}, "learned by logistic-sgd, not pa-classifier"),
        ({"inputs": ("x0", "x1")}, "inputs x0,x1,x2, in that order; --inputs gives x0,x1"),
        ({"inputs": ("x1", "x0", "x2")}, "--inputs gives x1,x0,x2"),
        ({"labels": ("a", "c")}, "labels a,b; --labels gives a,c"),
        ({"data_type": "wine"}, "dataType synth, not wine"),
    ],
)
def test_flags_that_describe_another_model_refuse_to_start(
    flags: dict[str, Any], named: str
) -> None:
    message = refusal(learned_state(), **flags)
    assert message.startswith("version 3 of online") and named in message


def test_a_changed_learning_rate_applies_from_here_on(caplog: pytest.LogCaptureFixture) -> None:
    state = learned_state(learning_rate=0.5)
    with caplog.at_level(logging.WARNING, logger="service.learning.resume"):
        model = resumed(state, learning_rate=0.01)
    assert "learning rate 0.5; going on with 0.01" in caplog.text
    assert model.learning_rate == 0.01 and model._model.get_params()["eta0"] == 0.01
    kept = {k: v for k, v in model.state().items() if k != "learning_rate"}
    assert kept == {k: v for k, v in state.items() if k != "learning_rate"}
    # And it learns on as a learner started afresh from that state with that rate would.
    x, y = stream(20, seed=14)
    expected = OnlineModel.from_state({**state, "learning_rate": 0.01})
    assert model.test_then_train(x, y) == expected.test_then_train(x, y)
    assert model.state() == expected.state()
    assert resumed(state).learning_rate is None  # back to the default schedule, also said


def broken(change: Any) -> Any:
    state = copy.deepcopy(learned_state())
    change(state)
    return state


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({"state": "junk"}, "state: Input should be a valid dictionary"),
        ({"state": broken(lambda s: s.update(format=99))}, "unknown learner state format"),
        ({"state": broken(lambda s: s["scaler"].update(n_samples_seen_="30"))}, "n_samples_seen_"),
        ({"state": broken(lambda s: s["scaler"].update(mean_=[0.0]))}, "3 long"),
        ({"state": broken(lambda s: s["model"].update(t_=True))}, "model.t_"),
        ({"state": broken(lambda s: s.update(learned=-1))}, "learned"),
        ({"state": learned_state(), "feedbackOffsets": {"x": 1}}, "feedbackOffsets.x"),
        ({"state": learned_state(), "feedbackOffsets": {"0": -5}}, "feedbackOffsets.0"),
        (
            {
                "state": {
                    **learned_state(),
                    "learned": 0,
                    "scaler": None,
                    "model": None,
                    "inputs": [f"feature-{i:020d}" for i in range(MAX_STATE_BYTES // 20)],
                }
            },
            f"more than the {MAX_STATE_BYTES}",
        ),
    ],
)
def test_learner_metadata_that_is_not_valid_refuses_to_start(metadata: Any, why: str) -> None:
    document = descriptor(None)
    document["metadata"]["learner"] = metadata
    with pytest.raises(CannotResumeError) as caught:
        restored_from(document)
    message = str(caught.value)
    assert why in message and "\n" not in message
    assert message.startswith("version 3 of online has learner metadata")


def test_a_state_whose_coefficients_do_not_fit_refuses_to_start() -> None:
    """Checked when the model is built: coefficient rows for classes_ in another order than
    partial_fit keeps them would answer each label with another's coefficients."""
    swapped = broken(lambda s: s["model"].update(classes_=["b", "a"]))
    assert "classes_ ['b', 'a'] are not ['a', 'b']" in refusal(swapped)
    short = broken(lambda s: s["model"].update(coef_=[[0.0, 1.0]]))
    assert "shape (1, 2), expected (1, 3)" in refusal(short)


@pytest.mark.parametrize("document", [[1], {"version": "junk"}, {"version": 0}])
def test_a_latest_record_that_is_not_a_descriptor_refuses_to_start(document: Any) -> None:
    with pytest.raises(CannotResumeError, match=r"not a JSON object|no valid version"):
        restored_from(document)


def test_a_version_not_published_by_a_learner_is_learned_on_from_scratch() -> None:
    document = {"name": "online", "version": 4, "metadata": {"learner": "alice"}}
    assert restored_from(document) == Restored(4)
    model = starting_model(Restored(4), LearnerOptions("online", "synth", "pa-regressor", INPUTS))
    assert model.learned == 0 and model.algorithm == "pa-regressor"
