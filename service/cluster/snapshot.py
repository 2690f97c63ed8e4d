"""A process's stats snapshot: the value of a record on the stats topic (key: the instance, and
the worker), and ``GET /snapshot``. It holds what the cluster view and a container's
supervisor show and merge: who and where the process is, its ``/stats``, its partitions and
their lag, its models, what each model version scored, and each dataType's ``/state``
(routes and their members' stats included). ``schemas/stats_snapshot.schema.json`` is its
JSON Schema (``make schemas``; a test keeps the two equal)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service import __version__
from service.http.views import model_infos, serving_state
from service.metrics import Metrics
from service.routing.registry import Registry
from service.serving.model import utcnow

SnapshotState = Literal["running", "stopped"]
# Counts read from other processes' snapshots are summed across the deployment: bounded so
# that no sum leaves what JSON encoders (and a double) hold exactly, whoever wrote them.
Count = Annotated[int, Field(ge=0, le=2**53)]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class PartitionLag(_Shape):
    topic: str
    partition: int
    lag: Count | None = Field(description="Records behind the end after the last batch read.")


class ProcessStats(_Shape):
    """``GET /stats`` of the process (typed, so that a record from a foreign or broken writer
    is refused when read, rather than breaking every replica's view)."""

    consumed: Count = 0
    scored: Count = 0
    dlq: Count = 0
    batches: Count = 0
    batched_records: Count = Field(0, alias="batchedRecords")
    avg_batch_size: float = Field(0.0, alias="avgBatchSize")
    scoring_ms: float = Field(0.0, alias="scoringMs")
    dead_letters: dict[str, Count] = Field(default_factory=dict, alias="deadLetters")
    models: Count = 0
    uptime: float = 0.0


class ServingState(BaseModel):
    """``GET /state/{dataType}``: the fields the merges read are typed; the rest (the route's
    stats, whatever a newer version adds) is kept as it came."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    version: int
    since: str | None = None
    usage: Count = 0
    duration: float = 0.0
    min: float = 0.0
    max: float = 0.0
    route: dict[str, Any] | None = None


class ModelStatus(_Shape):
    """A name's version as ``/models`` shows it; a descriptor refused before it had a version
    or a dataType (invalid, say) shows neither."""

    name: str
    version: int | None
    data_type: str | None = Field(alias="dataType")
    status: str


class ModelScored(_Shape):
    """What one version of a model scored in this process since it started."""

    name: str
    version: int
    data_type: str = Field(alias="dataType")
    records: Count
    batches: Count
    scoring_ms: float = Field(alias="scoringMs")


class StatsSnapshot(_Shape):
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
        return self.model_dump(mode="json", by_alias=True)


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

    def stats(self) -> dict[str, Any]:
        return self._metrics.totals.as_dict(models=self._registry.serving_count())

    def take(self, state: SnapshotState = "running") -> StatsSnapshot:
        me, registry = self.identity, self._registry
        infos = model_infos(registry)
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
            stats=ProcessStats.model_validate(self.stats()),
            partitions=[
                PartitionLag(topic=topic, partition=partition, lag=lag)
                for (topic, partition), lag in sorted(self._lags().items())
            ],
            models=[
                ModelStatus(
                    name=i["name"],
                    version=i["version"],
                    data_type=i["dataType"],
                    status=i["status"],
                )
                for i in infos
            ],
            scored=[
                ModelScored(
                    name=name,
                    version=version,
                    data_type=count.data_type,
                    records=count.records,
                    batches=count.batches,
                    scoring_ms=round(count.seconds * 1000.0, 3),
                )
                for (name, version), count in sorted(self._metrics.totals.by_model.items())
            ],
            states={
                dt: ServingState.model_validate(state)
                for dt, state in states.items()
                if state is not None
            },
        )
