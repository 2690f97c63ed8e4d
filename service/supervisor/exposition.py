"""One Prometheus exposition for a container from its workers' (``GET /metrics`` on the
supervisor's port). Counters and histograms add up; a gauge is merged by what it measures:
lag and assigned partitions add up (each partition belongs to one worker), a shadow's
agreement is weighted by the records each worker compared, ``*_created`` timestamps take the
earliest, and the rest are the same on every worker (models loaded, their versions: each
worker replays the same control topic), so the largest is taken.

Counts stay monotonic, as Prometheus requires of a counter (a dip reads as a reset, and
``rate()`` would count every other worker's whole total again): a worker that does not answer
a scrape keeps its last counts in the sum, and one that restarted from zero has its counts
carried on from where they were, as the client library's multiprocess mode does."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

SUMMED_GAUGES = frozenset({"modelserve_consumer_lag", "modelserve_assigned_partitions"})
AGREEMENT = "modelserve_shadow_agreement"
SHADOW_RECORDS = "modelserve_shadow_records_total"
WINDOW = 10_000

LabelKey = tuple[tuple[str, str], ...]


def _key(labels: dict[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


class MonotonicExposition:
    """The merge over scrapes: what it keeps of each worker between them."""

    def __init__(self) -> None:
        self._last: dict[int, list[Metric]] = {}  # a worker's families as last merged
        self._raw: dict[tuple[int, str, LabelKey], float] = {}  # a count as the worker said
        self._carried: dict[tuple[int, str, LabelKey], float] = {}  # counts before a restart

    def merge(self, texts: dict[int, str | None]) -> bytes:
        """Each worker's exposition, or None for one that did not answer."""
        per_worker = []
        for worker, text in sorted(texts.items()):
            if text is None:
                per_worker.append([f for f in self._last.get(worker, []) if _counts(f)])
                continue
            families = list(text_string_to_metric_families(text))
            for family in families:
                if _counts(family):
                    family.samples = [self._carry(worker, sample) for sample in family.samples]
            self._last[worker] = families
            per_worker.append(families)
        return merge_families(per_worker)

    def _carry(self, worker: int, sample: Sample) -> Sample:
        key = (worker, sample.name, _key(sample.labels))
        before = self._raw.get(key)
        if before is not None and sample.value < before:  # the worker started again
            self._carried[key] = self._carried.get(key, 0.0) + before
        self._raw[key] = sample.value
        return sample._replace(value=sample.value + self._carried.get(key, 0.0))


def _counts(family: Metric) -> bool:
    return family.type in ("counter", "histogram", "summary") and not family.name.endswith(
        "_created"
    )


def merge_families(parsed: list[list[Metric]]) -> bytes:
    compared = _compared(parsed)
    merged: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, LabelKey], list[float]]] = {}
    weights: dict[tuple[str, LabelKey], list[float]] = {}
    for worker, families in enumerate(parsed):
        for family in families:
            if family.name not in merged:
                merged[family.name] = Metric(family.name, family.documentation, family.type)
                values[family.name] = {}
            for sample in family.samples:
                key = (sample.name, _key(sample.labels))
                values[family.name].setdefault(key, []).append(sample.value)
                if family.name == AGREEMENT:
                    weights.setdefault(key, []).append(_weight(sample.labels, compared[worker]))
    for name, metric in merged.items():
        for (sample_name, labels), found in values[name].items():
            value = _combine(metric, found, weights.get((sample_name, labels)))
            metric.add_sample(sample_name, dict(labels), value)
    return _render(list(merged.values()))


def _combine(metric: Metric, found: list[float], weights: list[float] | None) -> float:
    if metric.name.endswith("_created"):
        return min(found)
    if metric.type in ("counter", "histogram", "summary") or metric.name in SUMMED_GAUGES:
        return sum(found)
    if metric.name == AGREEMENT and weights is not None and sum(weights) > 0:
        return sum(v * w for v, w in zip(found, weights, strict=True)) / sum(weights)
    return max(found)


def _compared(parsed: list[list[Metric]]) -> list[dict[LabelKey, float]]:
    """Per worker: records each shadow compared, by (data_type, model)."""
    found: list[dict[LabelKey, float]] = []
    for families in parsed:
        counts: dict[LabelKey, float] = {}
        for family in families:
            for sample in family.samples:
                if sample.name == SHADOW_RECORDS and sample.labels.get("outcome") == "compared":
                    labels = {k: sample.labels[k] for k in ("data_type", "model")}
                    counts[_key(labels)] = sample.value
        found.append(counts)
    return found


def _weight(labels: dict[str, str], compared: dict[LabelKey, float]) -> float:
    """What a worker's agreement sample stands for: the records it compared, all of them
    since the start, at most the window's for ``last10000``."""
    count = compared.get(_key({k: labels.get(k, "") for k in ("data_type", "model")}), 0.0)
    return min(count, WINDOW) if labels.get("window") == "last10000" else count


def _render(metrics: list[Metric]) -> bytes:
    class Merged(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from metrics

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Merged())
    return generate_latest(registry)
