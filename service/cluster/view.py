"""The whole deployment from the snapshots on the stats topic: ``GET /cluster`` and
``GET /state/{dataType}?scope=cluster``. A process is alive while its last snapshot was seen
less than three of its intervals ago; a replica (an instance: a container, whatever its
workers) is alive while any of its processes is, ``stopped`` when all of them stopped cleanly,
and ``departed`` otherwise (killed, or cut off): it ages out without anyone saying so. Totals
are over the alive instances, each counted from its alive processes. Ages are measured on the
reader's clock, from when it read the snapshot (see stats_part.py), so that writers' clocks
need not agree; a process unseen for longer than the stats topic keeps records is forgotten.
The documents are state/cluster.py's; this reads the snapshots into them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from service.cluster.snapshot import StatsSnapshot
from service.state.cluster import (
    ClusterState,
    ClusterView,
    InstancePartition,
    InstanceState,
    InstanceView,
    InstanceWorker,
    ProcessUsage,
)
from service.state.merge import merge_states, merge_stats
from service.state.process import ProcessStats

ALIVE_INTERVALS = 3
FORGET_AFTER_S = 24 * 3600.0  # the stats topic's retention (kafka/topics.py)


@dataclass(frozen=True)
class Seen:
    """A process's latest snapshot, and when this reader saw it (its own clock)."""

    snapshot: StatsSnapshot
    at: datetime

    def age_s(self, now: datetime) -> float:
        return max(0.0, (now - self.at).total_seconds())

    def alive(self, now: datetime) -> bool:
        interval = self.snapshot.interval_s
        return self.snapshot.state == "running" and self.age_s(now) < ALIVE_INTERVALS * interval


@dataclass(frozen=True)
class Instance:
    """One replica's processes, as last seen."""

    name: str
    seen: Sequence[Seen]
    now: datetime

    @property
    def processes(self) -> list[StatsSnapshot]:
        return [s.snapshot for s in self.seen]

    @property
    def alive_processes(self) -> list[StatsSnapshot]:
        return [s.snapshot for s in self.seen if s.alive(self.now)]

    @property
    def counted(self) -> list[StatsSnapshot]:
        """What its figures come from: its alive processes, or its last word when none is."""
        return self.alive_processes or self.processes

    @property
    def state(self) -> InstanceState:
        if self.alive_processes:
            return "alive"
        return "stopped" if all(p.state == "stopped" for p in self.processes) else "departed"

    @property
    def stats(self) -> ProcessStats:
        """Its ``/stats``: summed over what it is counted from."""
        return merge_stats([p.stats for p in self.counted])

    def view(self) -> InstanceView:
        counted = self.counted
        last = max(self.seen, key=lambda s: s.at)
        partitions = sorted(
            (
                InstancePartition(
                    topic=lag.topic, partition=lag.partition, lag=lag.lag, worker=p.worker
                )
                for p in counted
                for lag in p.partitions
            ),
            key=lambda row: (row.topic, row.partition),
        )
        return InstanceView(
            instance=self.name,
            state=self.state,
            host=last.snapshot.host,
            version=last.snapshot.version,
            workers=[
                InstanceWorker(
                    worker=s.snapshot.worker, pid=s.snapshot.pid, alive=s.alive(self.now)
                )
                for s in sorted(self.seen, key=lambda s: s.snapshot.worker or 0)
            ],
            started_at=min(p.started_at for p in counted).isoformat(),
            last_seen=last.at.isoformat(),
            age_s=round(last.age_s(self.now), 3),
            partitions=partitions,
            lag=sum(row.lag or 0 for row in partitions),
            stats=self.stats,
        )


def instances(snapshots: Iterable[Seen], now: datetime) -> list[Instance]:
    grouped: dict[str, list[Seen]] = {}
    for seen in snapshots:
        if seen.age_s(now) < FORGET_AFTER_S:
            grouped.setdefault(seen.snapshot.instance, []).append(seen)
    return [Instance(name, seen, now) for name, seen in sorted(grouped.items())]


def cluster_view(snapshots: Iterable[Seen], now: datetime, me: str) -> ClusterView:
    """``GET /cluster`` as ``me`` sees it ``now``."""
    return ClusterView.of(me, now.isoformat(), [i.view() for i in instances(snapshots, now)])


def cluster_state(snapshots: Iterable[Seen], now: datetime, data_type: str) -> ClusterState | None:
    """``/state/{dataType}`` across the alive instances' alive processes, with what each
    contributed under ``instances``."""
    parts = [
        (p, p.states[data_type])
        for instance in instances(snapshots, now)
        if instance.state == "alive"
        for p in instance.alive_processes
        if data_type in p.states
    ]
    merged = merge_states([state for _, state in parts])
    if merged is None:
        return None
    return ClusterState.of(
        merged,
        as_of=min(p.published_at for p, _ in parts).isoformat(),
        instances=[
            ProcessUsage(
                instance=p.instance,
                worker=p.worker,
                name=state.name,
                version=state.version,
                usage=state.usage,
            )
            for p, state in parts
        ],
    )
