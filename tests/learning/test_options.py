"""`modelserve learn`'s flags are checked before anything starts: a value the learner cannot
run with exits 2 with one line naming it, with no broker needed to find out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.learning.learner import LearnerOptions
from service.tools.cli import main
from tests.learner_helpers import options

FLAGS = ["learn", "--name", "online", "--data-type", "synth", "--inputs", "x0,x1"]


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"max_regression": -0.1}, "--max-regression must be a number of 0 or more"),
        ({"max_regression": float("nan")}, "--max-regression"),
        ({"window": 0}, "--window must be 1 or more, not 0"),
        ({"publish_every": 0}, "--publish-every must be 1 or more"),
        ({"publish_interval_s": 0.0}, "--publish-interval-s must be a positive number"),
        ({"publish_interval_s": float("inf")}, "--publish-interval-s"),
        ({"learning_rate": -1.0}, "the learning rate must be a positive number"),
        ({"labels": None}, "needs its classes (labels) up front"),
        ({"algorithm": "pa-regressor"}, "is a regressor: it has no classes"),
        ({"inputs": ("x0", "x0")}, "each once"),
        ({"name": ""}, "--name must not be empty"),
    ],
)
def test_options_the_learner_cannot_run_with_are_refused(
    overrides: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        options(**overrides)


def test_the_defaults_are_valid() -> None:
    assert LearnerOptions("online", "synth", "sgd-regressor", ("x0",)).window == 1000


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--algorithm", "sgd-regressor", "--max-regression", "-1"], "--max-regression"),
        (["--algorithm", "sgd-regressor", "--window", "0"], "--window must be 1 or more"),
        (["--labels", "a,b", "--publish-every", "0"], "--publish-every must be 1 or more"),
        (["--algorithm", "logistic-sgd"], "needs its classes"),
    ],
)
def test_the_cli_exits_2_with_one_line_before_any_client_starts(
    flags: list[str], why: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broker that is not there: any client started would fail or hang, not exit 2 at once.
    monkeypatch.setenv("MODELSERVE_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert main([*FLAGS, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelserve: ") and why in err and err.count("\n") == 1
