"""The cluster view from snapshots, with a fixed clock: alive within three intervals,
``stopped`` when every process of an instance said so, ``departed`` otherwise; totals over
the alive instances; a worker's snapshot counted in its replica."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.cluster.snapshot import StatsSnapshot
from service.cluster.view import Seen
from service.http.cluster_views import cluster_document, cluster_state

NOW = datetime.fromisoformat("2026-11-21T12:00:00+00:00")


def snap(
    instance: str,
    worker: int | None,
    age_s: float,
    scored: int,
    partitions: list[int],
    state: str = "running",
    usage: int | None = None,
) -> Seen:
    doc: dict[str, Any] = {
        "instance": instance,
        "worker": worker,
        "host": "h",
        "pid": 1,
        "version": "0.1.0",
        "state": state,
        "startedAt": "2026-11-21T11:00:00+00:00",
        "publishedAt": "2020-01-01T00:00:00Z",  # the writer's clock is not the reader's
        "intervalS": 1.0,
        "stats": {
            "consumed": scored,
            "scored": scored,
            "dlq": 0,
            "batches": 1,
            "batchedRecords": scored,
            "deadLetters": {},
            "models": 1,
            "uptime": 1.0,
        },
        "partitions": [{"topic": "data", "partition": p, "lag": p} for p in partitions],
        "models": [],
        "scored": [],
        "states": {},
    }
    if usage is not None:
        doc["states"]["wine"] = {
            "name": "rf",
            "description": "",
            "modelType": "ONNX",
            "version": 1,
            "since": "2026-11-21T11:00:00+00:00",
            "usage": usage,
            "duration": usage / 10,
            "min": 0.1,
            "max": 0.1,
            "avg": 0.1,
            "route": None,
        }
    return Seen(StatsSnapshot.model_validate(doc), NOW - timedelta(seconds=age_s))


def test_alive_stopped_and_departed() -> None:
    view = cluster_document(
        [
            snap("a", 0, 0.5, 10, [0]),
            snap("a", 1, 2.9, 20, [1]),
            snap("b", None, 3.1, 40, [2]),  # three intervals unseen: departed
            snap("c", None, 0.1, 80, [3], state="stopped"),
        ],
        NOW,
        "a",
    )
    assert (view["alive"], view["departed"], view["stopped"]) == (["a"], ["b"], ["c"])
    assert view["totals"]["scored"] == 30 and view["totals"]["instances"] == 1
    assert view["totals"]["lag"] == 1
    a = view["instances"][0]
    assert [w["worker"] for w in a["workers"]] == [0, 1]
    assert [(p["partition"], p["worker"]) for p in a["partitions"]] == [(0, 0), (1, 1)]
    assert [(p["partition"], p["instance"]) for p in view["partitions"]] == [(0, "a"), (1, "a")]
    departed = view["instances"][1]
    assert departed["stats"]["scored"] == 40 and departed["ageS"] == 3.1  # its last word


def test_a_dead_worker_leaves_its_replica_alive_and_uncounted() -> None:
    view = cluster_document([snap("a", 0, 0.5, 10, [0]), snap("a", 1, 9.0, 20, [1])], NOW, "a")
    a = view["instances"][0]
    assert a["state"] == "alive" and a["stats"]["scored"] == 10
    assert [w["alive"] for w in a["workers"]] == [True, False]


def test_an_instance_is_stopped_only_when_all_its_processes_stopped() -> None:
    view = cluster_document(
        [snap("a", 0, 9.0, 1, [], state="stopped"), snap("a", 1, 9.0, 1, [])], NOW, "x"
    )
    assert view["departed"] == ["a"]


def test_the_cluster_state_merges_the_alive_processes() -> None:
    merged = cluster_state(
        [
            snap("a", 0, 0.1, 0, [], usage=30),
            snap("b", None, 0.1, 0, [], usage=70),
            snap("c", None, 99, 0, [], usage=1000),
        ],
        NOW,
        "wine",
    )
    assert merged is not None and merged["usage"] == 100 and merged["scope"] == "cluster"
    assert [(i["instance"], i["usage"]) for i in merged["instances"]] == [("a", 30), ("b", 70)]
    assert cluster_state([snap("a", 0, 0.1, 0, [])], NOW, "wine") is None


def test_a_process_unseen_for_longer_than_the_retention_is_forgotten() -> None:
    view = cluster_document([snap("a", None, 1.0, 1, []), snap("b", None, 90_000, 1, [])], NOW, "a")
    assert [i["instance"] for i in view["instances"]] == ["a"] and view["departed"] == []
