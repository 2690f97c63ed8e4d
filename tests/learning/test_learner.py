"""The learner's core without Kafka: feedback batches through test-then-train, the join, the
serving version's live quality, when a version is due, what the gate lets through, and what
a published descriptor carries."""

from __future__ import annotations

import logging
import time

import orjson
import pytest

from service.learning.algorithms import OnlineModel
from service.learning.learner import LearnerCore, LearnerOptions
from service.learning.restore import Restored, restored_from
from service.learning.windows import RecentById
from service.scoring.records import LocalRecord
from tests.learner_helpers import INPUTS, answered, data_records, feedback, stream


def core(default_data_type: str | None = None, **overrides: object) -> LearnerCore:
    values: dict[str, object] = {
        "name": "online",
        "data_type": "synth",
        "algorithm": "pa-classifier",
        "inputs": INPUTS,
        "labels": ("a", "b"),
        "publish_every": 100,
        "publish_interval_s": 3600.0,
        "window": 100,
    }
    values.update(overrides)
    options = LearnerOptions(**values)  # type: ignore[arg-type]
    model = OnlineModel(options.algorithm, options.inputs, options.labels, options.learning_rate)
    return LearnerCore(
        options,
        model,
        Restored(),
        RecentById(1000, 3600),
        RecentById(1000, 3600),
        default_data_type=default_data_type,
    )


def as_records(items: list[tuple[str, dict[str, object]]], topic: str = "fb") -> list[LocalRecord]:
    return [
        LocalRecord(
            orjson.dumps(doc),
            key.encode(),
            topic=topic,
            partition=0,
            offset=i,
            timestamp=int(time.time() * 1000),
        )
        for i, (key, doc) in enumerate(items)
    ]


def test_feedback_is_learned_and_a_version_is_due_every_so_many_records() -> None:
    learner = core()
    x, y = stream(250, seed=4)
    records = as_records(feedback(x, y))
    assert learner.learn(records[:99]) == [] and not learner.due()
    learner.learn(records[99:100])
    assert learner.due() and learner.counts.learned == 100
    descriptor = learner.candidate()
    assert descriptor is not None and descriptor.version == 1
    learner.published(descriptor)
    assert not learner.due() and learner.offsets == {0: 100}
    metadata = descriptor.metadata
    assert metadata["recordsLearned"] == 100 and metadata["algorithm"] == "pa-classifier"
    assert metadata["learner"]["feedbackOffsets"] == {"0": 100}
    assert metadata["parentVersion"] is None
    # What a restart reads back is this learner, exactly.
    restored = restored_from(orjson.loads(descriptor.to_json()))
    assert restored.version == 1 and restored.offsets == {0: 100}
    assert OnlineModel.from_state(restored.state or {}).state() == learner.model.state()


def test_id_only_feedback_joins_and_scores_the_serving_version() -> None:
    learner = core()
    x, y = stream(50, seed=6)
    learner.see_data(as_records(data_records(x, "d"), topic="data"))
    learner.see_predictions(answered(y, "d", 3))
    invalid = learner.learn(
        as_records([*feedback(x, y, prefix="d", with_features=False), ("bad", {"id": "zzz"})])
    )
    assert [why for _, why in invalid] == ["classification feedback needs a label"]
    assert learner.counts.joined == 50 and learner.counts.learned == 50
    assert learner.serving == ("offline", 3)
    assert learner.serving_quality[("offline", 3)].windowed() == 1.0  # it answered the truth
    unmatched = as_records([("q", {"id": "nowhere", "label": "a"})])
    learner.learn(unmatched)
    assert learner.counts.unmatched == 1


def test_the_gate_holds_back_a_version_worse_than_the_serving_one() -> None:
    learner = core(algorithm="logistic-sgd", learning_rate=1e4)
    x, y = stream(300, seed=7)
    learner.see_predictions(answered(y))
    learner.learn(as_records(feedback(x, y)))
    assert learner.candidate() is None and learner.counts.held_back == 1
    assert "worse" in learner.last_verdict or "below" in learner.last_verdict


def test_bad_feedback_is_a_dead_letter_and_the_learning_goes_on() -> None:
    """A label not among --labels, and a feature so large that learning it would make the
    model's numbers infinite: each is returned as invalid (for the dead-letter topic), and
    the model is what the good records alone make it."""
    learner, alone = core(), core()
    x, y = stream(60, seed=8)
    good = feedback(x, y)
    bad = [
        ("label", {"x0": 0.1, "x1": 0.2, "x2": 0.3, "label": "zzz"}),
        ("huge", {"x0": 1e200, "x1": 0.2, "x2": 0.3, "label": "a"}),
    ]
    invalid = learner.learn(as_records([*good[:30], *bad, *good[30:]]))
    whys = [why for _, why in invalid]
    assert [r.key for r, _ in invalid] == [b"label", b"huge"]
    assert "'zzz' is not one of the classes" in whys[0] and "within" in whys[1]
    assert learner.counts.invalid == 2 and learner.counts.learned == 60
    alone.learn(as_records(good))
    assert learner.model.state() == alone.model.state()
    assert learner.quality.as_dict() == alone.quality.as_dict()
    assert learner.candidate() is not None  # and a version can be made of it


def test_a_version_that_cannot_be_exported_is_held_back_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    learner = core()
    x, y = stream(100, seed=9)
    learner.learn(as_records(feedback(x, y)))

    def broken() -> None:
        raise ValueError("no ONNX today")

    monkeypatch.setattr(learner.model, "to_onnx", broken)
    with caplog.at_level(logging.ERROR, logger="service.learning.learner"):
        assert learner.candidate() is None
    assert learner.counts.held_back == 1 and learner.counts.published == 0
    assert "no ONNX today" in learner.last_verdict and "cannot be exported" in caplog.text
    assert not learner.due()  # offered again at the next due time, not at every record


def test_data_records_take_the_default_data_type() -> None:
    """A data record with no dataType field or header is of MODELSERVE_DEFAULT_DATA_TYPE, as
    the service reads it: id-only feedback joins to it."""
    learner, without = core(default_data_type="synth"), core()
    x, y = stream(20, seed=10)
    plain = [
        (key, {k: v for k, v in doc.items() if k != "dataType"})
        for key, doc in data_records(x, "d")
    ]
    for each in (learner, without):
        each.see_data(as_records(plain, topic="data"))
        each.learn(as_records(feedback(x, y, prefix="d", with_features=False)))
    assert learner.counts.joined == 20 and learner.counts.learned == 20
    assert without.counts.joined == 0 and without.counts.unmatched == 20
