"""``GET /cluster`` and ``GET /state/{dataType}?scope=cluster``, typed: every replica of the
deployment as its processes' snapshots show it (cluster/view.py reads them and decides who is
alive), the totals and partitions of the alive ones, and a dataType's state merged across
them with what each process contributed. Built only from the state's own documents, so that
the merges here are the ones a container's supervisor uses (merge.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from service.state.merge import MergedState, merge_stats
from service.state.process import ProcessStats
from service.state.shapes import Count, IsoTime, Shape

InstanceState = Literal["alive", "stopped", "departed"]


class InstanceWorker(Shape):
    """One process of a replica: its worker index (null for a replica of one process)."""

    worker: int | None
    pid: int
    alive: bool


class InstancePartition(Shape):
    """A data partition a process of the replica holds, and its lag (null before any)."""

    topic: str
    partition: int
    lag: Count | None
    worker: int | None


class InstanceView(Shape):
    """One replica: ``startedAt`` its oldest counted process's start, ``lastSeen`` and
    ``ageS`` its latest snapshot's, on the reader's clock; its partitions, lag and ``/stats``
    over its alive processes, or its last word when none is."""

    instance: str
    state: InstanceState
    host: str
    version: str
    workers: list[InstanceWorker]
    started_at: IsoTime = Field(alias="startedAt")
    last_seen: IsoTime = Field(alias="lastSeen")
    age_s: float = Field(alias="ageS")
    partitions: list[InstancePartition]
    lag: int
    stats: ProcessStats


class ClusterPartition(InstancePartition):
    instance: str


class ClusterTotals(ProcessStats):
    """The alive replicas' ``/stats`` merged, their lag summed, and how many they are."""

    lag: int
    instances: int


class ClusterView(Shape):
    """``GET /cluster``, as ``instance`` (the replica answering) saw it ``at``."""

    instance: str
    at: IsoTime
    instances: list[InstanceView]
    alive: list[str]
    stopped: list[str]
    departed: list[str]
    totals: ClusterTotals
    partitions: list[ClusterPartition]

    @classmethod
    def of(cls, me: str, at: IsoTime, views: Sequence[InstanceView]) -> ClusterView:
        """Totals and partitions come from the alive replicas only: a departed one's last
        figures are shown under its own name, never counted."""
        alive = [v for v in views if v.state == "alive"]
        return cls(
            instance=me,
            at=at,
            instances=list(views),
            alive=[v.instance for v in alive],
            stopped=[v.instance for v in views if v.state == "stopped"],
            departed=[v.instance for v in views if v.state == "departed"],
            totals=ClusterTotals(
                **dict(merge_stats([v.stats for v in alive])),
                lag=sum(v.lag for v in alive),
                instances=len(alive),
            ),
            partitions=sorted(
                (
                    ClusterPartition(**dict(row), instance=v.instance)
                    for v in alive
                    for row in v.partitions
                ),
                key=lambda row: (row.topic, row.partition),
            ),
        )


class ProcessUsage(Shape):
    """What one process contributed to a merged state."""

    instance: str
    worker: int | None
    name: str
    version: int
    usage: Count


class ClusterState(MergedState):
    """``/state/{dataType}`` merged across the alive replicas' alive processes; ``asOf`` the
    oldest snapshot it comes from."""

    scope: Literal["cluster"] = "cluster"
    as_of: IsoTime = Field(alias="asOf")
    instances: list[ProcessUsage]

    @classmethod
    def of(
        cls, merged: MergedState, as_of: IsoTime, instances: Sequence[ProcessUsage]
    ) -> ClusterState:
        return cls(**dict(merged), as_of=as_of, instances=list(instances))
