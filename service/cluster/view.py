"""The whole deployment from the snapshots on the stats topic: ``GET /cluster`` and
``GET /state/{dataType}?scope=cluster``. A process is alive while its last snapshot is younger
than three of its intervals; a replica (an instance: a container, whatever its workers) is
alive while any of its processes is, ``stopped`` when all of them stopped cleanly, and
``departed`` otherwise (killed, or cut off): it ages out without anyone saying so. Totals are
over the alive instances, each counted from its alive processes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from service.cluster.merge import merge_states, merge_stats
from service.cluster.snapshot import StatsSnapshot

ALIVE_INTERVALS = 3
InstanceState = Literal["alive", "stopped", "departed"]


def age_s(snapshot: StatsSnapshot, now: datetime) -> float:
    return (now - datetime.fromisoformat(snapshot.published_at)).total_seconds()


def process_alive(snapshot: StatsSnapshot, now: datetime) -> bool:
    return snapshot.state == "running" and age_s(snapshot, now) < ALIVE_INTERVALS * max(
        snapshot.interval_s, 0.001
    )


@dataclass(frozen=True)
class Instance:
    """One replica's processes, as last seen."""

    name: str
    processes: Sequence[StatsSnapshot]
    now: datetime

    @property
    def alive_processes(self) -> list[StatsSnapshot]:
        return [p for p in self.processes if process_alive(p, self.now)]

    @property
    def counted(self) -> list[StatsSnapshot]:
        """What its figures come from: its alive processes, or its last word when none is."""
        return self.alive_processes or list(self.processes)

    @property
    def state(self) -> InstanceState:
        if self.alive_processes:
            return "alive"
        return "stopped" if all(p.state == "stopped" for p in self.processes) else "departed"

    def document(self) -> dict[str, Any]:
        counted = self.counted
        last = max(self.processes, key=lambda p: p.published_at)
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
            "host": last.host,
            "version": last.version,
            "workers": [
                {"worker": p.worker, "pid": p.pid, "alive": process_alive(p, self.now)}
                for p in sorted(self.processes, key=lambda p: p.worker or 0)
            ],
            "startedAt": min(p.started_at for p in counted),
            "lastSeen": last.published_at,
            "ageS": round(age_s(last, self.now), 3),
            "partitions": partitions,
            "lag": sum(int(row["lag"] or 0) for row in partitions),
            "stats": merge_stats([p.stats for p in counted]),
        }


def instances(snapshots: Iterable[StatsSnapshot], now: datetime) -> list[Instance]:
    grouped: dict[str, list[StatsSnapshot]] = {}
    for snapshot in snapshots:
        grouped.setdefault(snapshot.instance, []).append(snapshot)
    return [Instance(name, processes, now) for name, processes in sorted(grouped.items())]


def cluster_document(snapshots: Iterable[StatsSnapshot], now: datetime, me: str) -> dict[str, Any]:
    found = instances(snapshots, now)
    docs = [i.document() for i in found]
    alive = [d for d in docs if d["state"] == "alive"]
    return {
        "instance": me,
        "at": now.isoformat(),
        "instances": docs,
        "alive": [d["instance"] for d in alive],
        "stopped": [d["instance"] for d in docs if d["state"] == "stopped"],
        "departed": [d["instance"] for d in docs if d["state"] == "departed"],
        "totals": {
            **merge_stats([d["stats"] for d in alive]),
            "lag": sum(int(d["lag"]) for d in alive),
            "instances": len(alive),
        },
        "partitions": sorted(
            ({**row, "instance": d["instance"]} for d in alive for row in d["partitions"]),
            key=lambda row: (str(row["topic"]), int(row["partition"])),
        ),
    }


def cluster_state(
    snapshots: Iterable[StatsSnapshot], now: datetime, data_type: str
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
    merged["scope"] = "cluster"
    merged["asOf"] = min(p.published_at for p, _ in parts)
    merged["instances"] = [
        {
            "instance": p.instance,
            "worker": p.worker,
            "name": state["name"],
            "version": state["version"],
            "usage": state["usage"],
        }
        for p, state in parts
    ]
    return merged
