"""Routes in Prometheus: read from the routes' own stats when scraped, so the hot path counts
in plain attributes and never looks up a labelled metric per batch.

- ``modelserve_route_records_total{data_type, mode, model}``: records each member answered
  (canary, ensemble) or won (speculative);
- ``modelserve_shadow_records_total{data_type, model, outcome}``: a shadow's records, by
  ``compared`` (both answered), ``error``, ``timeout``, ``skipped``;
- ``modelserve_shadow_agreement{data_type, model, window}``: share of equal labels (or mean
  absolute difference), ``window`` = ``start`` or ``last10000``;
- ``modelserve_speculative_wins_total`` / ``modelserve_speculative_timeouts_total``
  ``{data_type, model}``."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.routing.registry import Registry
from service.routing.route_stats import ShadowStats, SpeculativeStats, SplitStats


class RouteCollector(Collector):
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        records = CounterMetricFamily(
            "modelserve_route_records",
            "Records answered per route member (won, for speculative routes).",
            labels=["data_type", "mode", "model"],
        )
        shadow = CounterMetricFamily(
            "modelserve_shadow_records",
            "Records shadowed, by outcome (compared, error, timeout, skipped).",
            labels=["data_type", "model", "outcome"],
        )
        agreement = GaugeMetricFamily(
            "modelserve_shadow_agreement",
            "Shadow against primary: share of equal labels, or mean absolute difference.",
            labels=["data_type", "model", "window"],
        )
        wins = CounterMetricFamily(
            "modelserve_speculative_wins",
            "Records a speculative candidate answered.",
            labels=["data_type", "model"],
        )
        timeouts = CounterMetricFamily(
            "modelserve_speculative_timeouts",
            "Batches a speculative candidate missed the deadline of.",
            labels=["data_type", "model"],
        )
        for data_type, declared in self._registry.book.active.items():
            stats = declared.stats
            if isinstance(stats, ShadowStats):
                for name, member in stats.members().items():
                    for outcome, count in (
                        ("compared", member.compared),
                        ("error", member.errors),
                        ("timeout", member.timeouts),
                        ("skipped", member.skipped),
                    ):
                        shadow.add_metric([data_type, name, outcome], count)
                    for window, value in (
                        ("start", member.agreement()),
                        ("last10000", member.window.mean()),
                    ):
                        if value is not None:
                            agreement.add_metric([data_type, name, window], value)
            elif isinstance(stats, SpeculativeStats):
                for name, candidate in stats.candidates.items():
                    wins.add_metric([data_type, name], candidate.wins)
                    timeouts.add_metric([data_type, name], candidate.timeouts)
                    records.add_metric([data_type, "speculative", name], candidate.wins)
            elif isinstance(stats, SplitStats):
                mode = declared.spec.mode
                for name, count in stats.answered.items():
                    records.add_metric([data_type, mode, name], count)
        yield from (records, shadow, agreement, wins, timeouts)
