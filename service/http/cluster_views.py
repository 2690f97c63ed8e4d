"""The HTTP side of the cluster view: ``GET /cluster`` (every instance from the stats topic),
``GET /snapshot`` (this process's snapshot: what a container's supervisor merges) and
``GET /timeline`` (the last minutes of this process's totals, for the dashboard's charts)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.clock import utcnow
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.cluster.view import cluster_document


def add_cluster_routes(app: FastAPI, cluster: ClusterStats, timeline: Timeline) -> None:
    @app.get("/cluster")
    async def get_cluster() -> dict[str, Any]:
        return cluster_document(cluster.snapshots(), utcnow(), cluster.taker.identity.instance)

    @app.get("/snapshot")
    async def get_snapshot() -> dict[str, Any]:
        return cluster.taker.take().document()

    @app.get("/timeline")
    async def get_timeline() -> dict[str, Any]:
        return timeline.document()
