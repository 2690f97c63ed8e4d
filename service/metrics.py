"""Prometheus collectors on a registry of their own (injected, never the global one), plus
the plain counters behind ``GET /stats``."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.errors import (
    DecodeError,
    InvalidRecordError,
    ModelUnavailableError,
    NoModelError,
    ScoringError,
)
from service.serving.events import EventStatus

# Per-version counts kept for the snapshots, per name: an online learner publishes a version
# every few thousand records, for weeks.
VERSIONS_COUNTED = 32
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


# Known label values are exported at zero from the start, so that a dashboard's query names a
# series before the first dead letter or event (Prometheus' advice for labelled counters).
RECORD_REASONS = tuple(
    e.reason
    for e in (DecodeError, InvalidRecordError, NoModelError, ScoringError, ModelUnavailableError)
)
COMMIT_OUTCOMES = ("ok", "failed")
RESTART_CAUSES = ("retriable", "non-retriable")


@dataclass
class ModelCount:
    """What one version of a model scored in this process (kept after it leaves service)."""

    data_type: str
    records: int = 0
    batches: int = 0
    seconds: float = 0.0


@dataclass
class Totals:
    """Service totals for ``/stats`` (state/process.py), the cluster snapshots and the
    timeline; plain attributes, cheap to update once per batch on the hot path."""

    started: float = field(default_factory=time.monotonic)
    consumed: int = 0
    scored: int = 0
    dlq: int = 0
    batches: int = 0
    batched_records: int = 0
    scoring_seconds: float = 0.0
    dead_letters: dict[str, int] = field(default_factory=dict)
    by_model: dict[tuple[str, int], ModelCount] = field(default_factory=dict)
    slowest_since_sample: float = 0.0  # the timeline takes and resets it


INFERENCE_PROTOCOLS = ("rest", "grpc", "kafka")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.totals = Totals()
        r = self.registry
        self.consumed = Counter(
            "modelserve_records_consumed", "Records read from data topics.", ["topic"], registry=r
        )
        self.scored = Counter(
            "modelserve_records_scored", "Records scored.", ["data_type", "model"], registry=r
        )
        self.dead_lettered = Counter(
            "modelserve_records_dead_lettered",
            "Records sent to the dead-letter topic.",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "modelserve_batch_size",
            "Records per model call.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.scoring_seconds = Histogram(
            "modelserve_scoring_seconds",
            "Time of one model call on one batch.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_events = Counter(
            "modelserve_model_events",
            "Model lifecycle events, by status.",
            ["status"],
            registry=r,
        )
        self.models_serving = Gauge(
            "modelserve_models_serving", "Models loaded (serving or standing by).", registry=r
        )
        self.commits = Counter(
            "modelserve_offset_commits",
            "Offset commits of the data consumer.",
            ["outcome"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "modelserve_consumer_lag",
            "Records behind the partition's end, after the last batch.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "modelserve_assigned_partitions",
            "Data partitions assigned to this replica.",
            registry=r,
        )
        self.data_plane_restarts = Counter(
            "modelserve_data_plane_restarts",
            "Restarts of the data loop after a failure, by cause (retriable: the broker; "
            "non-retriable: a bug, which ends the service when it repeats).",
            ["cause"],
            registry=r,
        )
        self.rebalances = Counter(
            "modelserve_rebalances", "Partition revocations of the data consumer.", registry=r
        )
        self.produce_errors = Counter(
            "modelserve_produce_errors", "Outputs the broker did not acknowledge.", registry=r
        )
        self.inference_requests = Counter(
            "modelserve_inference_requests",
            "Open Inference Protocol requests, by transport (rest, grpc, kafka) and outcome "
            "(ok, or the status of the error: 400, 404, 500, 503).",
            ["protocol", "outcome"],
            registry=r,
        )
        self.inference_seconds = Histogram(
            "modelserve_inference_seconds",
            "Time from an Open Inference Protocol request read to its answer, by transport.",
            ["protocol"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._initialise_labels()

    def record_inference(self, protocol: str, outcome: str, seconds: float) -> None:
        self.inference_requests.labels(protocol, outcome).inc()
        self.inference_seconds.labels(protocol).observe(seconds)

    def record_consumed(self, topic: str, count: int) -> None:
        self.totals.consumed += count
        self.consumed.labels(topic).inc(count)

    def record_batch(
        self, model: str, version: int, data_type: str, size: int, seconds: float
    ) -> None:
        totals = self.totals
        totals.batches += 1
        totals.batched_records += size
        totals.scoring_seconds += seconds
        totals.slowest_since_sample = max(totals.slowest_since_sample, seconds)
        count = totals.by_model.get((model, version))
        if count is None:
            count = totals.by_model[(model, version)] = ModelCount(data_type)
        count.records += size
        count.batches += 1
        count.seconds += seconds
        self.batch_size.observe(size)
        self.scoring_seconds.labels(model, str(version)).observe(seconds)
        self.scored.labels(data_type, model).inc(size)

    def record_answered(self, count: int) -> None:
        """Records that got an answer (a prediction), whatever number of models it took."""
        self.totals.scored += count

    def record_dead_letter(self, reason: str) -> None:
        self.totals.dlq += 1
        self.totals.dead_letters[reason] = self.totals.dead_letters.get(reason, 0) + 1
        self.dead_lettered.labels(reason).inc()

    def forget_version(self, model: str, version: int) -> None:
        """A version's model is closed: its own series leave the exposition (about 17 for its
        latency histogram), so that Prometheus' series do not grow with every version ever
        served; the per-name totals (``modelserve_records_scored_total``) go on. The
        snapshots keep the counts of the newest versions of each name."""
        with contextlib.suppress(KeyError):
            self.scoring_seconds.remove(model, str(version))
        counted = sorted(v for m, v in self.totals.by_model if m == model)
        for old in counted[:-VERSIONS_COUNTED]:
            del self.totals.by_model[(model, old)]

    def forget_partitions(self, partitions: list[tuple[str, int]]) -> None:
        """Revoked partitions' lag is another replica's to report now."""
        for topic, partition in partitions:
            with contextlib.suppress(KeyError):
                self.consumer_lag.remove(topic, str(partition))

    def _initialise_labels(self) -> None:
        for reason in RECORD_REASONS:
            self.dead_lettered.labels(reason)
        for status in get_args(EventStatus):
            self.model_events.labels(status)
        for outcome in COMMIT_OUTCOMES:
            self.commits.labels(outcome)
        for cause in RESTART_CAUSES:
            self.data_plane_restarts.labels(cause)
        for protocol in INFERENCE_PROTOCOLS:  # a dashboard draws each from zero
            self.inference_requests.labels(protocol, "ok")

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
