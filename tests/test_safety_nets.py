"""The safety nets behind the poison-input fixes, each reached by a bug injected where the
service foresaw nothing: the input that meets it costs itself (a dead letter, a rejected
event, invalid feedback), the others beside it are served, and nothing is raised into the
loop that serves them all. The property tests prove no poison reaches these nets; these
prove the nets hold when a future bug does."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import service.scoring.records as records_module
from service.control import lifecycle as lifecycle_module
from service.control.replay_actions import ControlRecord
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.scoring.records import LocalRecord
from service.untrusted import loads as untrusted_loads
from tests.control.test_lifecycle import Harness, onnx_doc
from tests.learner_helpers import feedback, stream
from tests.learning.test_learner import core
from tests.models import ModelFiles
from tests.routing.stubs import Scaled, install


def rows(data_type: str, *xs: float) -> list[LocalRecord]:
    return [LocalRecord(orjson.dumps({"dataType": data_type, "x": x})) for x in xs]


async def test_a_route_that_raises_costs_its_dataType_only(monkeypatch: pytest.MonkeyPatch) -> None:
    registry, metrics = Registry(), Metrics()
    install(registry, "good", Scaled(2.0), data_type="d")
    install(registry, "buggy", Scaled(3.0), data_type="e")
    route = registry.route_for("e")
    assert route is not None

    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in a route")

    monkeypatch.setattr(route, "answer", broken)
    outcomes = await Engine(registry, metrics, None).score(rows("d", 1, 2) + rows("e", 1))
    assert [o.result for o in outcomes[:2]] == [{"value": 2.0}, {"value": 4.0}]
    error = outcomes[2].error
    assert error is not None and error.reason == "scoring-error"
    assert "could not score it: RuntimeError" in str(error)


async def test_a_decoder_bug_costs_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    registry, metrics = Registry(), Metrics()
    install(registry, "good", Scaled(2.0), data_type="d")
    real = untrusted_loads

    def loads(data: bytes, max_depth: int) -> Any:
        if b'"x":7' in data:
            raise KeyError("a bug in decoding")
        return real(data, max_depth)

    monkeypatch.setattr(records_module, "loads", loads)
    batch = [*rows("d", 1, 7), LocalRecord(b"not json")]  # the careful path, record by record
    outcomes = await Engine(registry, metrics, None).score(batch)
    assert outcomes[0].result == {"value": 2.0}
    assert outcomes[1].error is not None and "could not be decoded" in str(outcomes[1].error)
    assert outcomes[2].error is not None and outcomes[2].error.reason == "decode-error"


async def test_a_lifecycle_bug_is_the_records_rejection_and_the_next_one_loads(
    model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness()
    real = h.registry.install
    calls = {"n": 0}

    def install_once_broken(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TypeError("a bug in the swap")
        return real(*args, **kwargs)

    monkeypatch.setattr(h.registry, "install", install_once_broken)
    await h.publish("wine", **onnx_doc(model_files))
    await h.publish("wine", **onnx_doc(model_files))
    assert [s[2] for s in h.statuses()] == ["rejected", "loaded"]
    assert "could not apply it: TypeError" in h.events[0]["error"]
    assert h.registry.serving_count() == 1


async def test_a_replay_that_cannot_be_planned_is_applied_in_order(
    model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in the planner")

    monkeypatch.setattr(lifecycle_module, "plan_replay", broken)
    h = Harness()
    doc = orjson.dumps({"name": "wine", **onnx_doc(model_files)})
    await h.lifecycle.replay([ControlRecord(b"wine", doc, (), 0), ControlRecord(b"x", b"{")])
    assert [s[2] for s in h.statuses()] == ["loaded", "rejected"]
    assert h.registry.serving_count() == 1


def test_a_learner_bug_is_invalid_feedback_and_learning_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learner = core()
    real = learner.model.learn_one
    calls = {"n": 0}

    def learn_once_broken(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ZeroDivisionError("a bug in learning")
        return real(*args)

    monkeypatch.setattr(learner.model, "learn_one", learn_once_broken)
    features, labels = stream(5, seed=1)
    batch = [
        LocalRecord(orjson.dumps(doc), topic="feedback", offset=i)
        for i, (_, doc) in enumerate(feedback(features, labels))
    ]
    invalid = learner.learn(batch)
    assert [(r.offset, why) for r, why in invalid] == [
        (1, "could not learn from it: ZeroDivisionError")
    ]
    assert learner.counts.learned == 4 and learner.counts.invalid == 1
