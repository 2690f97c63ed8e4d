"""A process's stats snapshot: the value of a record on the stats topic (key: the instance, and
the worker), and ``GET /snapshot``. It holds what the cluster view and a container's
supervisor show and merge: who and where the process is, its ``/stats``, its partitions and
their lag, its models, what each model version scored, and each dataType's ``/state``
(routes and their members' stats included). ``schemas/stats_snapshot.schema.json`` is its
JSON Schema (``make schemas``; a test keeps the two equal). A container's supervisor answers
``GET /snapshot`` with its workers' (ContainerSnapshot)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from service import __version__
from service.clock import utcnow
from service.metrics import Metrics
from service.routing.registry import Registry
from service.state.container import Unanswered
from service.state.models import ModelStatus, model_infos
from service.state.process import ModelScored, ProcessStats, models_scored, process_stats
from service.state.serving import ServingState, serving_state
from service.state.shapes import Count, Shape, encode

SnapshotState = Literal["running", "stopped"]


class PartitionLag(Shape):
    topic: str
    partition: int
    lag: Count | None = Field(description="Records behind the end after the last batch read.")


class StatsSnapshot(Shape):
    instance: str = Field(description="The replica (a container); its workers share it.")
    worker: int | None = Field(description="The worker's index under WORKERS=N, else null.")
    host: str
    pid: int
    version: str = Field(description="modelserve's version.")
    state: SnapshotState = Field(description="`stopped` in the last snapshot of a clean stop.")
    started_at: AwareDatetime = Field(alias="startedAt")
    published_at: AwareDatetime = Field(
        alias="publishedAt", description="When it was taken, on the writer's clock."
    )
    interval_s: float = Field(alias="intervalS", gt=0, description="Seconds between snapshots.")
    stats: ProcessStats = Field(description="The process's `GET /stats`.")
    partitions: list[PartitionLag] = Field(description="Data partitions assigned, with lag.")
    models: list[ModelStatus] = Field(description="Every model name known, as in /models.")
    scored: list[ModelScored] = Field(description="Records scored per model and version.")
    states: dict[str, ServingState] = Field(
        description="`GET /state/{dataType}` of every dataType served."
    )

    @property
    def key(self) -> str:
        """The stats topic's key: one record per process, the latest kept by compaction."""
        return self.instance if self.worker is None else f"{self.instance}/w{self.worker}"

    def document(self) -> dict[str, Any]:
        return encode(self)


class ContainerSnapshot(Shape):
    """A container's ``GET /snapshot`` under ``WORKERS=N``: each worker's snapshot as its
    worker wrote it, or why there is none."""

    instance: str
    workers: list[StatsSnapshot | Unanswered]


@dataclass(frozen=True)
class Identity:
    instance: str
    worker: int | None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: datetime = field(default_factory=utcnow)


class SnapshotTaker:
    """Takes this process's snapshot from the state it already keeps: nothing is counted for
    it on the hot path."""

    def __init__(
        self,
        identity: Identity,
        registry: Registry,
        metrics: Metrics,
        lags: Callable[[], dict[tuple[str, int], int | None]],
        interval_s: float,
    ) -> None:
        self.identity = identity
        self._registry = registry
        self._metrics = metrics
        self._lags = lags
        self._interval_s = interval_s

    def take(self, state: SnapshotState = "running") -> StatsSnapshot:
        me, registry, totals = self.identity, self._registry, self._metrics.totals
        states = {dt: serving_state(registry, dt) for dt in sorted(registry.routes())}
        return StatsSnapshot(
            instance=me.instance,
            worker=me.worker,
            host=me.host,
            pid=me.pid,
            version=__version__,
            state=state,
            started_at=me.started_at,
            published_at=utcnow(),
            interval_s=self._interval_s,
            stats=process_stats(totals, registry.serving_count()),
            partitions=[
                PartitionLag(topic=topic, partition=partition, lag=lag)
                for (topic, partition), lag in sorted(self._lags().items())
            ],
            models=[ModelStatus.of(info) for info in model_infos(registry)],
            scored=models_scored(totals),
            states={dt: state for dt, state in states.items() if state is not None},
        )
