"""Ensemble mode: a majority vote equal to one computed independently (ties to the member
listed first), means of probabilities and values, the ensemble named as the model."""

from __future__ import annotations

from collections import Counter

import numpy as np
import orjson

from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.scoring.predictions import PredictionEncoder, prediction_document
from tests.routing.stubs import Scaled, Threshold, declare, install, records


def probabilities(model: Threshold, x: float) -> list[float]:
    rest = (1 - model.confidence) / (len(model.classes) - 1)
    return [model.confidence if c == model.label(x) else rest for c in model.classes]


def majority(labels: list[str]) -> str:
    """The label most often given; on a tie, the first given among the tied."""
    counts = Counter(labels)
    top = max(counts.values())
    return next(label for label in labels if counts[label] == top)


async def test_a_vote_is_the_majority_and_a_tie_goes_to_the_first_listed() -> None:
    registry = Registry()
    members = {
        "a": Threshold(0, confidence=0.6),
        "b": Threshold(1, confidence=0.7),
        "c": Threshold(0, confidence=0.9),
        "d": Threshold(2, confidence=0.5),
    }
    for name, model in members.items():
        install(registry, name, model)
    xs = list(range(12))
    declare(registry, mode="ensemble", members=["b", "a", "c"])
    outcomes = await Engine(registry, Metrics(), None).score(records(*xs))
    expected = [majority([members[n].label(x) for n in ("b", "a", "c")]) for x in xs]
    assert [o.result["label"] for o in outcomes if o.result] == expected
    # Probabilities are the members' mean.
    for x, outcome in zip(xs, outcomes, strict=True):
        assert outcome.result is not None
        mean = np.mean([probabilities(members[n], x) for n in ("b", "a", "c")], axis=0)
        assert np.allclose([outcome.result["probabilities"][c] for c in "abc"], mean)
    # Three members that each disagree: the tie goes to the one listed first (b).
    declare(registry, mode="ensemble", members=["b", "a", "d"])
    tied = await Engine(registry, Metrics(), None).score(records(*xs))
    assert [o.result["label"] for o in tied if o.result] == [members["b"].label(x) for x in xs]


async def test_a_two_two_tie_among_four_goes_to_the_first_listed_of_the_tied() -> None:
    registry = Registry()
    members = {"p": Threshold(1), "q": Threshold(0), "r": Threshold(0), "s": Threshold(1)}
    for name, model in members.items():
        install(registry, name, model)
    declare(registry, mode="ensemble", members=["q", "p", "s", "r"])
    outcomes = await Engine(registry, Metrics(), None).score(records(0, 1, 2))
    # q (listed first) and r say one label, p and s the other: q's wins every tie.
    assert [o.result["label"] for o in outcomes if o.result] == [
        members["q"].label(x) for x in (0, 1, 2)
    ]
    assert all(members["q"].label(x) != members["p"].label(x) for x in (0, 1, 2))


async def test_mean_combines_probabilities_and_values_and_names_the_ensemble() -> None:
    registry = Registry()
    install(registry, "a", Threshold(0, confidence=0.9))
    install(registry, "b", Threshold(1, confidence=0.6))
    declare(registry, mode="ensemble", members=["a", "b"], combine="mean")
    (outcome,) = await Engine(registry, Metrics(), None).score(records(0))
    # a: (0.9, 0.05, 0.05); b: (0.2, 0.6, 0.2) → mean (0.55, 0.325, 0.125), label a.
    assert outcome.result is not None and outcome.result["label"] == "a"
    assert np.allclose([outcome.result["probabilities"][c] for c in "abc"], [0.55, 0.325, 0.125])
    document = prediction_document(outcome, with_source=True)
    assert document["model"] == {
        "name": "d ensemble",
        "members": [{"name": "a", "version": 1}, {"name": "b", "version": 1}],
    }
    assert orjson.loads(PredictionEncoder().encode(outcome)) == document
    assert outcome.model is not None and dict(outcome.model.headers)["model-members"] == b"a:1,b:1"
    registry_r = Registry()
    install(registry_r, "r1", Scaled(1))
    install(registry_r, "r2", Scaled(3))
    declare(registry_r, mode="ensemble", members=["r1", "r2"], combine="mean")
    (value,) = await Engine(registry_r, Metrics(), None).score(records(2))
    assert value.result == {"value": 4.0}


async def test_a_record_any_member_cannot_answer_is_a_dead_letter() -> None:
    registry = Registry()
    install(registry, "a", Scaled(1))
    install(registry, "b", Scaled(1, field="y"))
    declare(registry, mode="ensemble", members=["a", "b"], combine="mean")
    (outcome,) = await Engine(registry, Metrics(), None).score(records(1))
    assert outcome.result is None and outcome.error is not None
    assert outcome.error.reason == "invalid-record" and "'y'" in str(outcome.error)
    assert outcome.model is not None and outcome.model.label == "b:1"  # the member that failed
