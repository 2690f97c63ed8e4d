"""The HTTP side of the cluster view: ``GET /cluster`` (every instance from the stats topic),
``GET /snapshot`` (this process's snapshot: what a container's supervisor merges) and
``GET /timeline`` (the last minutes of this process's totals, for the dashboard's charts),
each read once as its type and encoded here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from service.clock import utcnow
from service.cluster import view
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.cluster.view import Seen
from service.state.shapes import encode


def add_cluster_routes(app: FastAPI, cluster: ClusterStats, timeline: Timeline) -> None:
    @app.get("/cluster")
    async def get_cluster() -> dict[str, Any]:
        return cluster_document(cluster.snapshots(), utcnow(), cluster.taker.identity.instance)

    @app.get("/snapshot")
    async def get_snapshot() -> dict[str, Any]:
        return encode(cluster.taker.take())

    @app.get("/timeline")
    async def get_timeline() -> dict[str, Any]:
        return encode(timeline.document())


def cluster_document(snapshots: Iterable[Seen], now: datetime, me: str) -> dict[str, Any]:
    return encode(view.cluster_view(snapshots, now, me))


def cluster_state(
    snapshots: Iterable[Seen], now: datetime, data_type: str
) -> dict[str, Any] | None:
    """``GET /state/{dataType}?scope=cluster``."""
    state = view.cluster_state(snapshots, now, data_type)
    return encode(state) if state is not None else None
