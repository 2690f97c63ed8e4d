"""The learner: feedback in, test-then-train, and — every so many records or seconds, when the
gate allows — a new version published as an ordinary ModelDescriptor on the control topic,
which every replica hot-swaps to like any other model.

Its feedback offsets are committed only when a version is published, and the version's
metadata carries them with the learner's state: a restarted learner (learning/restore.py)
resumes from exactly there, so no feedback record is learned twice or lost across a kill -9."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.control.descriptor import ModelDescriptor
from service.learning.algorithms import Algorithm, OnlineModel
from service.learning.feedback import (
    Feedback,
    InvalidFeedbackError,
    features_row,
    parse_feedback,
)
from service.learning.gate import judge
from service.learning.prequential import Prequential
from service.learning.restore import METADATA_KEY, Restored
from service.learning.windows import RecentById
from service.routing.serving import iso, utcnow
from service.scoring.records import SourceRecord, decode_record

log = logging.getLogger(__name__)

Truth = str | float


@dataclass(frozen=True)
class LearnerOptions:
    name: str
    data_type: str
    algorithm: Algorithm
    inputs: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    learning_rate: float | None = None
    publish_every: int = 1000
    publish_interval_s: float = 10.0
    max_regression: float = 0.02
    window: int = 1000


@dataclass
class Counts:
    feedback: int = 0
    learned: int = 0
    joined: int = 0
    unmatched: int = 0
    invalid: int = 0
    other_data_type: int = 0
    published: int = 0
    held_back: int = 0


@dataclass
class Published:
    version: int
    records: int
    score: float | None
    at: str


@dataclass
class LearnerCore:
    """Everything but Kafka: what a feedback batch does to the model and the figures, and
    whether and what to publish. The Kafka part (learning/part.py) feeds it."""

    options: LearnerOptions
    model: OnlineModel
    restored: Restored
    data: RecentById[dict[str, Any]]
    predictions: RecentById[tuple[str, int, Truth]]
    counts: Counts = field(default_factory=Counts)
    offsets: dict[int, int] = field(default_factory=dict)
    versions: list[Published] = field(default_factory=list)
    last_publish: float = field(default_factory=time.monotonic)
    since_publish: int = 0
    last_verdict: str = ""

    def __post_init__(self) -> None:
        self.offsets = dict(self.restored.offsets)
        self.version = self.restored.version
        self.quality = Prequential(self.model.kind, self.options.window)
        self.serving_quality: dict[tuple[str, int], Prequential] = {}
        self.serving: tuple[str, int] | None = None

    # -- what the other topics say ----------------------------------------------------------

    def see_data(self, records: Sequence[SourceRecord]) -> None:
        """Data records of our dataType, by id, for feedback that names only an id."""
        for record in records:
            try:
                decoded = decode_record(record, None)
            except Exception:  # the service dead-letters it; nothing to join here
                continue
            if decoded.data_type == self.options.data_type:
                self.data.put(decoded.record_id, decoded.fields, record.timestamp / 1000.0)

    def see_predictions(self, values: Sequence[dict[str, Any]]) -> None:
        """What the serving models answered, by record id: the live quality of whatever
        serves, learned or not."""
        for p in values:
            if p.get("dataType") != self.options.data_type or "id" not in p:
                continue
            model, result = p.get("model") or {}, p.get("result") or {}
            answer = result.get("label", result.get("value"))
            if answer is None or "version" not in model:
                continue
            key = (str(model.get("name")), int(model["version"]))
            self.serving = key
            truth: Truth = str(answer) if self.model.kind == "classifier" else float(answer)
            self.predictions.put(str(p["id"]), (key[0], key[1], truth))

    # -- feedback ---------------------------------------------------------------------------

    def learn(self, records: Sequence[SourceRecord]) -> list[tuple[SourceRecord, str]]:
        """Test-then-train on a batch of feedback, in order. Returns the invalid records
        with why (for the dead-letter topic); unmatched ones are counted."""
        rows: list[list[float]] = []
        truths: list[Truth] = []
        ids: list[str | None] = []
        invalid: list[tuple[SourceRecord, str]] = []
        for record in records:
            self.counts.feedback += 1
            self.offsets[record.partition] = record.offset + 1
            try:
                feedback = parse_feedback(
                    record.value, self.model.kind, self.options.data_type, self.options.inputs
                )
                if feedback is None:
                    self.counts.other_data_type += 1
                    continue
                fields = self._fields(feedback)
                if fields is None:
                    continue
                rows.append(features_row(fields, self.options.inputs))
            except InvalidFeedbackError as exc:
                self.counts.invalid += 1
                invalid.append((record, str(exc)))
                continue
            truths.append(feedback.truth)
            ids.append(feedback.record_id)
        if rows:
            self._test_then_train(np.array(rows, dtype=np.float64), truths, ids)
        return invalid

    def _fields(self, feedback: Feedback) -> dict[str, Any] | None:
        if feedback.fields is not None:
            return feedback.fields
        assert feedback.record_id is not None
        joined = self.data.get(feedback.record_id)
        if joined is None:
            self.counts.unmatched += 1  # late, or its data record is out of the window
            return None
        self.counts.joined += 1
        return joined

    def _test_then_train(
        self, features: np.ndarray[Any, Any], truths: list[Truth], ids: list[str | None]
    ) -> None:
        predicted = self.model.test_then_train(features, truths)  # type: ignore[arg-type]
        self.quality.record(predicted, truths)
        self.counts.learned += len(truths)
        self.since_publish += len(truths)
        for record_id, truth in zip(ids, truths, strict=True):
            found = self.predictions.get(record_id) if record_id is not None else None
            if found is not None:
                name, version, answer = found
                quality = self.serving_quality.get((name, version))
                if quality is None:
                    quality = self.serving_quality[(name, version)] = Prequential(
                        self.model.kind, self.options.window
                    )
                quality.record([answer], [truth])

    # -- publishing -------------------------------------------------------------------------

    def due(self, now: float | None = None) -> bool:
        if self.since_publish == 0 or not self.model.ready():
            return False
        now = time.monotonic() if now is None else now
        elapsed = now - self.last_publish
        return (
            self.since_publish >= self.options.publish_every
            or elapsed >= self.options.publish_interval_s
        )

    def candidate(self) -> ModelDescriptor | None:
        """The next version if the gate lets it through; None (counted, logged) if not."""
        self.last_publish = time.monotonic()
        serving = self.serving_quality.get(self.serving) if self.serving else None
        verdict = judge(
            self.model.kind,
            self.quality.windowed(),
            serving.windowed() if serving is not None else None,
            self.options.max_regression,
        )
        self.last_verdict = verdict.reason
        if not verdict.publish:
            self.counts.held_back += 1
            log.warning("version held back: %s", verdict.reason)
            return None
        artifact, labels = self.model.to_onnx()
        state = self.model.state()
        return ModelDescriptor.model_validate(
            {
                "name": self.options.name,
                "version": self.version + 1,
                "dataType": self.options.data_type,
                "modelType": "ONNX",
                "data": artifact,
                "inputs": list(self.options.inputs),
                "labels": labels,
                "description": f"online {self.options.algorithm}, {self.model.learned} records",
                "metadata": {
                    "algorithm": self.options.algorithm,
                    "recordsLearned": self.model.learned,
                    "prequential": self.quality.as_dict(),
                    "parentVersion": self.version or None,
                    METADATA_KEY: {
                        "state": state,
                        "feedbackOffsets": {str(p): o for p, o in sorted(self.offsets.items())},
                    },
                },
            }
        )

    def published(self, descriptor: ModelDescriptor) -> None:
        assert descriptor.version is not None
        self.version = descriptor.version
        self.since_publish = 0
        self.counts.published += 1
        self.versions.append(
            Published(
                descriptor.version, self.model.learned, self.quality.windowed(), iso(utcnow()) or ""
            )
        )
        del self.versions[:-100]  # the recent ones are what /state shows

    def state(self) -> dict[str, Any]:
        serving = self.serving_quality.get(self.serving) if self.serving else None
        return {
            "name": self.options.name,
            "dataType": self.options.data_type,
            "algorithm": self.options.algorithm,
            "version": self.version,
            "learned": self.model.learned,
            "prequential": self.quality.as_dict(),
            "serving": None
            if self.serving is None
            else {
                "name": self.serving[0],
                "version": self.serving[1],
                "prequential": serving.as_dict() if serving else None,
            },
            "counts": self.counts.__dict__,
            "lastVerdict": self.last_verdict,
            "feedbackOffsets": {str(p): o for p, o in sorted(self.offsets.items())},
            "versions": [v.__dict__ for v in self.versions[-20:]],
        }
