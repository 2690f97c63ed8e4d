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

from service.clock import iso, utcnow
from service.learning.algorithms import OnlineModel, UnlearnableError
from service.learning.feedback import (
    Feedback,
    InvalidFeedbackError,
    features_row,
    parse_feedback,
)
from service.learning.gate import judge

# Re-exported: the CLI and the demo build a learner's options from here.
from service.learning.options import LearnerOptions as LearnerOptions
from service.learning.prequential import Prequential
from service.learning.restore import METADATA_KEY, Restored
from service.learning.windows import RecentById
from service.scoring.records import SourceRecord, decode_record
from service.serving.descriptor import ModelDescriptor
from service.untrusted import DEFAULT_MAX_JSON_DEPTH

log = logging.getLogger(__name__)

Truth = str | float


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
    default_data_type: str | None = None  # MODELSERVE_DEFAULT_DATA_TYPE, for data records
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH  # MODELSERVE_MAX_JSON_DEPTH, for every record
    # Records learned since the last version was judged: a version is due by them, so that
    # after a hold-back or a failed publish the next is offered --publish-every records
    # later, not at once.
    since_judged: int = 0
    last_judged: float = field(default_factory=time.monotonic)
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
                decoded = decode_record(record, self.default_data_type, self.max_json_depth)
            except Exception:  # the service dead-letters it; nothing to join here
                continue
            if decoded.data_type == self.options.data_type:
                self.data.put(decoded.record_id, decoded.fields, record.timestamp / 1000.0)

    def see_predictions(self, values: Sequence[dict[str, Any]]) -> None:
        """What the serving models answered, by record id: the live quality of whatever
        serves, learned or not."""
        for p in values:
            try:
                self._see_prediction(p)
            except (TypeError, ValueError, AttributeError, OverflowError):
                continue  # not one of the service's predictions: anyone can write the topic

    def _see_prediction(self, p: dict[str, Any]) -> None:
        if p.get("dataType") != self.options.data_type or not isinstance(p.get("id"), str):
            return
        model, result = p.get("model") or {}, p.get("result") or {}
        answer = result.get("label", result.get("value"))
        version = model.get("version")
        if answer is None or not isinstance(version, int) or isinstance(version, bool):
            return
        key = (str(model.get("name")), version)
        truth: Truth = str(answer) if self.model.kind == "classifier" else float(answer)
        self.serving = key
        self.predictions.put(p["id"], (key[0], key[1], truth))

    # -- feedback ---------------------------------------------------------------------------

    def learn(self, records: Sequence[SourceRecord]) -> list[tuple[SourceRecord, str]]:
        """Test-then-train on a batch of feedback, one record at a time, in order. Returns
        the invalid records with why (for the dead-letter topic); unmatched ones are counted."""
        invalid: list[tuple[SourceRecord, str]] = []
        for record in records:
            self.counts.feedback += 1
            self.offsets[record.partition] = record.offset + 1
            try:
                self._learn_one(record)
            except InvalidFeedbackError as exc:
                self.counts.invalid += 1
                invalid.append((record, str(exc)))
            except Exception as exc:  # a bug one record reaches costs that record, not the learner
                log.exception("feedback at offset %d could not be learned from", record.offset)
                self.counts.invalid += 1
                invalid.append((record, f"could not learn from it: {type(exc).__name__}"))
        return invalid

    def _learn_one(self, record: SourceRecord) -> None:
        model = self.model
        feedback = parse_feedback(
            record.value,
            model.kind,
            self.options.data_type,
            self.options.inputs,
            model.classes,
            self.max_json_depth,
        )
        if feedback is None:
            self.counts.other_data_type += 1
            return
        fields = self._fields(feedback)
        if fields is None:
            return
        row = features_row(fields, self.options.inputs)
        try:
            answer = model.learn_one(row, feedback.truth)
        except UnlearnableError as exc:  # the model is as it was: the record is a dead letter
            raise InvalidFeedbackError(str(exc)) from exc
        self.quality.record([answer], [feedback.truth])
        self.counts.learned += 1
        self.since_judged += 1
        if feedback.record_id is not None:
            self._score_serving(feedback.record_id, feedback.truth)

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

    def _score_serving(self, record_id: str, truth: Truth) -> None:
        found = self.predictions.get(record_id)
        if found is None:
            return
        name, version, answer = found
        quality = self.serving_quality.get((name, version))
        if quality is None:
            quality = self.serving_quality[(name, version)] = Prequential(
                self.model.kind, self.options.window
            )
        quality.record([answer], [truth])

    # -- publishing -------------------------------------------------------------------------

    def due(self, now: float | None = None) -> bool:
        if self.since_judged == 0 or not self.model.ready():
            return False
        now = time.monotonic() if now is None else now
        return (
            self.since_judged >= self.options.publish_every
            or now - self.last_judged >= self.options.publish_interval_s
        )

    def candidate(self) -> ModelDescriptor | None:
        """The next version if the gate lets it through; None (counted, logged) if not, or if
        it cannot be exported. Either way the next is due --publish-every records or
        --publish-interval-s seconds from now."""
        self.last_judged = time.monotonic()
        self.since_judged = 0
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
            log.warning("version %d held back: %s", self.version + 1, verdict.reason)
            return None
        try:
            return self._descriptor()
        except Exception as exc:  # a model that cannot be exported must not stop the learning
            self.counts.held_back += 1
            self.last_verdict = f"not exportable: {exc}"
            log.error("version %d held back: it cannot be exported: %s", self.version + 1, exc)
            return None

    def _descriptor(self) -> ModelDescriptor:
        artifact, labels = self.model.to_onnx()
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
                        "state": self.model.state(),
                        "feedbackOffsets": {str(p): o for p, o in sorted(self.offsets.items())},
                    },
                },
            }
        )

    def published(self, descriptor: ModelDescriptor) -> None:
        assert descriptor.version is not None
        self.version = descriptor.version
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
