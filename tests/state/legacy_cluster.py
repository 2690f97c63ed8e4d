"""cluster/view.py's documents as they were before state/cluster.py typed them: ``Instance``
(its ``document``), ``instances``, ``cluster_document`` (``GET /cluster``) and ``cluster_state``
(``GET /state/{dataType}?scope=cluster``), kept verbatim over the same typed snapshots: the
oracle the typed view is compared with, byte for byte."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from service.cluster.snapshot import StatsSnapshot
from service.cluster.view import FORGET_AFTER_S, Seen
from service.state.merge import merge_states, merge_stats
from service.state.process import ProcessStats
from service.state.shapes import encode

InstanceState = Literal["alive", "stopped", "departed"]


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

    def document(self) -> dict[str, Any]:
        counted = self.counted
        last = max(self.seen, key=lambda s: s.at)
        partitions = sorted(
            (
                {"topic": lag.topic, "partition": lag.partition, "lag": lag.lag, "worker": p.worker}
                for p in counted
                for lag in p.partitions
            ),
            key=lambda row: (str(row["topic"]), int(row["partition"] or 0)),
        )
        return {
            "instance": self.name,
            "state": self.state,
            "host": last.snapshot.host,
            "version": last.snapshot.version,
            "workers": [
                {"worker": s.snapshot.worker, "pid": s.snapshot.pid, "alive": s.alive(self.now)}
                for s in sorted(self.seen, key=lambda s: s.snapshot.worker or 0)
            ],
            "startedAt": min(p.started_at for p in counted).isoformat(),
            "lastSeen": last.at.isoformat(),
            "ageS": round(last.age_s(self.now), 3),
            "partitions": partitions,
            "lag": sum(int(row["lag"] or 0) for row in partitions),
            "stats": encode(self.stats),
        }


def instances(snapshots: Iterable[Seen], now: datetime) -> list[Instance]:
    grouped: dict[str, list[Seen]] = {}
    for seen in snapshots:
        if seen.age_s(now) < FORGET_AFTER_S:
            grouped.setdefault(seen.snapshot.instance, []).append(seen)
    return [Instance(name, seen, now) for name, seen in sorted(grouped.items())]


def cluster_document(snapshots: Iterable[Seen], now: datetime, me: str) -> dict[str, Any]:
    found = instances(snapshots, now)
    docs = [i.document() for i in found]
    alive = [d for d in docs if d["state"] == "alive"]
    alive_stats = [i.stats for i in found if i.state == "alive"]
    return {
        "instance": me,
        "at": now.isoformat(),
        "instances": docs,
        "alive": [d["instance"] for d in alive],
        "stopped": [d["instance"] for d in docs if d["state"] == "stopped"],
        "departed": [d["instance"] for d in docs if d["state"] == "departed"],
        "totals": {
            **encode(merge_stats(alive_stats)),
            "lag": sum(int(d["lag"]) for d in alive),
            "instances": len(alive),
        },
        "partitions": sorted(
            ({**row, "instance": d["instance"]} for d in alive for row in d["partitions"]),
            key=lambda row: (str(row["topic"]), int(row["partition"])),
        ),
    }


def cluster_state(
    snapshots: Iterable[Seen], now: datetime, data_type: str
) -> dict[str, Any] | None:
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
    return {
        **encode(merged),
        "scope": "cluster",
        "asOf": min(p.published_at for p, _ in parts).isoformat(),
        "instances": [
            {
                "instance": p.instance,
                "worker": p.worker,
                "name": state.name,
                "version": state.version,
                "usage": state.usage,
            }
            for p, state in parts
        ],
    }
