"""``/cluster`` and ``/state/{dataType}?scope=cluster`` typed: over a deployment in every state
a replica can be in (alive with a dead worker, alone, departed, stopped, forgotten, an older
writer's, one still on another version), read back from JSON as the stats topic gives them,
the typed view encodes to exactly the bytes the untyped view wrote, for every dataType."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from service.clock import utcnow
from service.cluster.snapshot import Identity, SnapshotState, SnapshotTaker, StatsSnapshot
from service.cluster.view import Seen, cluster_state, cluster_view
from service.http import cluster_views
from service.state.cluster import (
    ClusterTotals,
    ClusterView,
    InstancePartition,
    InstanceState,
    InstanceView,
)
from service.state.process import ProcessStats
from service.state.shapes import encode
from tests.state import legacy_cluster
from tests.state.scenario import DATA_TYPES, busy_registry

WRITTEN_BEFORE = Path(__file__).resolve().parents[1] / "cluster/data/snapshot_0.1.0.json"
Lags = dict[tuple[str, int], int | None]
# instance, worker, seconds since seen (intervals of 1 s: alive under 3), state, lags
PROCESSES: list[tuple[str, int | None, float, SnapshotState, Lags]] = [
    ("a", 1, 2.0, "running", {("data", 2): 0, ("other", 0): 9}),
    ("a", 0, 0.5, "running", {("data", 1): 4, ("data", 0): None}),
    ("a", 2, 30.0, "running", {("data", 3): 5}),  # a dead worker of an alive replica
    ("b", None, 1.0, "running", {("data", 4): 2}),
    ("c", None, 60.0, "running", {("data", 5): 1}),  # departed
    ("d", 0, 1.0, "stopped", {}),
    ("d", 1, 1.5, "stopped", {}),
    ("e", None, 90_000.0, "running", {("data", 6): 1}),  # forgotten
]


async def deployment() -> tuple[list[Seen], datetime]:
    """Every process's last snapshot as a reader holds it, its own (``me``) as taken."""
    registry, metrics = await busy_registry()
    now = utcnow()
    seen = []
    for instance, worker, age, state, lags in PROCESSES:
        taker = SnapshotTaker(Identity(instance, worker), registry, metrics, lags.copy, 1.0)
        doc = taker.take(state).document()
        if instance == "b":  # a newer version of the model alone, since later
            later = (now + timedelta(seconds=1)).isoformat()
            doc["states"]["alone"].update(version=9, since=later, usage=5)
        read = StatsSnapshot.model_validate(orjson.loads(orjson.dumps(doc)))
        seen.append(Seen(read, now - timedelta(seconds=age)))
    old = StatsSnapshot.model_validate(json.loads(WRITTEN_BEFORE.read_text()))
    seen.append(Seen(old, now - timedelta(seconds=4.0)))  # 5 s intervals: alive
    mine = SnapshotTaker(Identity("me", None), registry, metrics, dict, 1.0).take()
    seen.append(Seen(mine, mine.published_at))
    return seen, now


async def test_the_cluster_view_is_written_as_the_untyped_view_wrote_it() -> None:
    seen, now = await deployment()
    for processes in (seen, seen[:2], seen[3:7], []):
        for me in ("me", "a"):
            view = cluster_view(processes, now, me)
            expected = orjson.dumps(legacy_cluster.cluster_document(processes, now, me))
            assert orjson.dumps(encode(view)) == expected
            assert orjson.dumps(cluster_views.cluster_document(processes, now, me)) == expected
    view = cluster_view(seen, now, "me")
    assert view.alive == ["a", "b", "me", "old-writer"]
    assert (view.stopped, view.departed) == (["d"], ["c"])
    assert [w.alive for w in view.instances[0].workers] == [True, True, False]
    assert [(p.instance, p.topic, p.partition) for p in view.partitions][:3] == [
        ("a", "data", 0),
        ("old-writer", "data", 0),
        ("a", "data", 1),
    ]


async def test_a_cluster_state_is_written_as_the_untyped_view_wrote_it() -> None:
    seen, now = await deployment()
    shown = set()
    for data_type in (*DATA_TYPES, "described", "gone", "unknown"):
        state = cluster_state(seen, now, data_type)
        expected = legacy_cluster.cluster_state(seen, now, data_type)
        assert orjson.dumps(state and encode(state)) == orjson.dumps(expected), data_type
        assert cluster_views.cluster_state(seen, now, data_type) == expected
        if state is not None:
            shown.add(data_type)
            assert [p.instance for p in state.instances][:2] == ["a", "a"]
    assert shown == {*DATA_TYPES, "described"}
    alone = cluster_state(seen, now, "alone")
    assert alone is not None and alone.version == 9 and alone.other_versions is not None
    assert encode(alone)["otherVersions"][0] == {"name": "solo", "version": 3}


def replica(name: str, state: InstanceState, scored: int, partition: int) -> InstanceView:
    return InstanceView(
        instance=name,
        state=state,
        host="h",
        version="0.1.0",
        workers=[],
        started_at="2026-11-21T11:00:00+00:00",
        last_seen="2026-11-21T11:00:00+00:00",
        age_s=0.0,
        partitions=[InstancePartition(topic="d", partition=partition, lag=3, worker=None)],
        lag=3,
        stats=ProcessStats(scored=scored),
    )


def test_totals_and_partitions_come_from_the_alive_instances_only() -> None:
    views = [
        replica("b", "alive", 2, 1),
        replica("a", "alive", 1, 0),
        replica("c", "departed", 40, 2),
    ]
    view = ClusterView.of("x", "2026-11-21T12:00:00+00:00", views)
    assert view.totals == ClusterTotals(**dict(ProcessStats(scored=3)), lag=6, instances=2)
    assert [(p.instance, p.partition) for p in view.partitions] == [("a", 0), ("b", 1)]
    assert (view.alive, view.departed) == (["b", "a"], ["c"])
    assert list(encode(view.totals))[-2:] == ["lag", "instances"]
