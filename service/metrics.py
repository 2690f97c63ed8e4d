"""Prometheus collectors on a registry of their own (injected, never the global one), plus
the plain counters behind ``GET /stats``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass
class Totals:
    """Service totals for ``/stats``; cheap to update on the hot path."""

    started: float = field(default_factory=time.monotonic)
    consumed: int = 0
    scored: int = 0
    dlq: int = 0
    batches: int = 0
    batched_records: int = 0

    def as_dict(self, models: int) -> dict[str, float | int]:
        return {
            "consumed": self.consumed,
            "scored": self.scored,
            "dlq": self.dlq,
            "batches": self.batches,
            "avgBatchSize": round(self.batched_records / self.batches, 2) if self.batches else 0.0,
            "models": models,
            "uptime": round(time.monotonic() - self.started, 3),
        }


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
            "Restarts of the data plane after a failure.",
            registry=r,
        )
        self.rebalances = Counter(
            "modelserve_rebalances", "Partition revocations of the data consumer.", registry=r
        )
        self.produce_errors = Counter(
            "modelserve_produce_errors", "Outputs the broker did not acknowledge.", registry=r
        )

    def record_consumed(self, topic: str, count: int) -> None:
        self.totals.consumed += count
        self.consumed.labels(topic).inc(count)

    def record_batch(
        self, model: str, version: int, data_type: str, size: int, seconds: float
    ) -> None:
        self.totals.batches += 1
        self.totals.batched_records += size
        self.batch_size.observe(size)
        self.scoring_seconds.labels(model, str(version)).observe(seconds)
        self.scored.labels(data_type, model).inc(size)

    def record_answered(self, count: int) -> None:
        """Records that got an answer (a prediction), whatever number of models it took."""
        self.totals.scored += count

    def record_dead_letter(self, reason: str) -> None:
        self.totals.dlq += 1
        self.dead_lettered.labels(reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
