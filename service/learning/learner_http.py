"""The learner's own small HTTP: ``/health``, ``/state`` (what it learned, its prequential
score beside the serving version's, the versions it published or held back) and
``/metrics`` (Prometheus, read from the same figures when scraped)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.http.app import PROMETHEUS_CONTENT_TYPE, OrjsonResponse
from service.learning.learner import LearnerCore


class LearnerCollector(Collector):
    def __init__(self, core: LearnerCore) -> None:
        self._core = core

    def collect(self) -> Iterator[Metric]:
        core = self._core
        counts = CounterMetricFamily(
            "modelserve_learner_feedback",
            "Feedback records, by outcome (learned, joined, unmatched, invalid, ...).",
            labels=["name", "outcome"],
        )
        for outcome, value in core.counts.__dict__.items():
            if outcome not in ("published", "held_back"):
                counts.add_metric([core.options.name, outcome], value)
        versions = CounterMetricFamily(
            "modelserve_learner_versions",
            "Versions the learner published or its gate held back.",
            labels=["name", "outcome"],
        )
        versions.add_metric([core.options.name, "published"], core.counts.published)
        versions.add_metric([core.options.name, "held_back"], core.counts.held_back)
        score = GaugeMetricFamily(
            "modelserve_learner_prequential",
            "Prequential accuracy (or MAE) of the learner and of the serving version.",
            labels=["name", "who", "window"],
        )
        serving = core.serving_quality.get(core.serving) if core.serving else None
        for who, quality in (("learner", core.quality), ("serving", serving)):
            if quality is None:
                continue
            for window, value in (("all", quality.overall()), ("window", quality.windowed())):
                if value is not None:
                    score.add_metric([core.options.name, who, window], value)
        yield from (counts, versions, score)


def create_learner_app(core: LearnerCore, live: Callable[[], bool]) -> FastAPI:
    app = FastAPI(title="modelserve learner", default_response_class=OrjsonResponse)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(LearnerCollector(core))

    @app.get("/health")
    async def health() -> Response:
        ok = live()
        return OrjsonResponse({"live": ok}, status_code=200 if ok else 503)

    @app.get("/state")
    async def state() -> dict[str, Any]:
        return core.state()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=PROMETHEUS_CONTENT_TYPE)

    return app
