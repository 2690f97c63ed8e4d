"""The learner's core without Kafka: feedback batches through test-then-train, the join, the
serving version's live quality, when a version is due, what the gate lets through, and what
a published descriptor carries."""

from __future__ import annotations

import time

import orjson

from service.learning.algorithms import OnlineModel
from service.learning.learner import LearnerCore, LearnerOptions
from service.learning.restore import Restored, restored_from
from service.learning.windows import RecentById
from service.scoring.records import LocalRecord
from tests.learner_helpers import INPUTS, data_records, feedback, stream


def core(**overrides: object) -> LearnerCore:
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
    return LearnerCore(options, model, Restored(), RecentById(1000, 3600), RecentById(1000, 3600))


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
    learner.see_predictions(
        [
            {
                "id": f"d{i}",
                "dataType": "synth",
                "model": {"name": "offline", "version": 3},
                "result": {"label": label},
            }
            for i, label in enumerate(y)
        ]
    )
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
    learner.see_predictions(
        [
            {
                "id": f"f{i}",
                "dataType": "synth",
                "model": {"name": "offline", "version": 1},
                "result": {"label": label},
            }
            for i, label in enumerate(y)
        ]
    )
    learner.learn(as_records(feedback(x, y)))
    assert learner.candidate() is None and learner.counts.held_back == 1
    assert "worse" in learner.last_verdict or "below" in learner.last_verdict
