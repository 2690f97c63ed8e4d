"""Models in Prometheus, read from the registry when scraped:
``modelserve_model_version{name, data_type, status}`` is the version of every model loaded
(``serving`` or ``standby``), so a dashboard draws which version served when."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.routing.history import IN_SERVICE
from service.routing.registry import Registry


class ModelCollector(Collector):
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        versions = GaugeMetricFamily(
            "modelserve_model_version",
            "Version of each model loaded, by status (serving or standby).",
            labels=["name", "data_type", "status"],
        )
        for name in self._registry.names():
            entry = self._registry.entry(name)
            if entry is None or entry.serving is None:
                continue
            serving = entry.serving
            shown = entry.find(serving.version, *IN_SERVICE)
            if shown is not None:
                labels = [name, serving.descriptor.data_type, shown.status]
                versions.add_metric(labels, serving.version)
        yield versions
