"""A container's /metrics from its workers': counters and histograms summed, lag summed per
partition, replicated gauges not doubled, agreement weighted by the records compared."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.metrics import Metrics
from service.supervisor.exposition import MonotonicExposition

AGREEMENT = """# HELP modelserve_shadow_agreement a
# TYPE modelserve_shadow_agreement gauge
modelserve_shadow_agreement{{data_type="wine",model="lr",window="start"}} {agreement}
modelserve_shadow_agreement{{data_type="wine",model="lr",window="last10000"}} {agreement}
# HELP modelserve_shadow_records_total b
# TYPE modelserve_shadow_records_total counter
modelserve_shadow_records_total{{data_type="wine",model="lr",outcome="compared"}} {compared}
"""


def merge_expositions(texts: list[str]) -> bytes:
    """One scrape of these workers' expositions."""
    return MonotonicExposition().merge(dict(enumerate(texts)))


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def worker(size: int, partition: int, lag: int) -> str:
    metrics = Metrics()
    metrics.record_batch("rf", 1, "wine", size, 0.003)
    metrics.record_dead_letter("no-model")
    metrics.consumer_lag.labels("data", str(partition)).set(lag)
    metrics.models_serving.set(2)
    return metrics.exposition().decode()


def test_counts_add_up_and_replicated_gauges_do_not() -> None:
    merged = samples(merge_expositions([worker(10, 0, 3), worker(30, 1, 4)]))
    scored = ("modelserve_records_scored_total", (("data_type", "wine"), ("model", "rf")))
    assert merged[scored] == 40
    assert merged[("modelserve_records_dead_lettered_total", (("reason", "no-model"),))] == 2
    assert merged[("modelserve_scoring_seconds_count", (("model", "rf"), ("version", "1")))] == 2
    assert merged[("modelserve_batch_size_sum", ())] == 40
    assert merged[("modelserve_models_serving", ())] == 2
    lag = "modelserve_consumer_lag"
    assert merged[(lag, (("partition", "0"), ("topic", "data")))] == 3
    assert merged[(lag, (("partition", "1"), ("topic", "data")))] == 4


def test_agreement_is_weighted_by_the_records_each_worker_compared() -> None:
    merged = samples(
        merge_expositions(
            [
                AGREEMENT.format(agreement=0.9, compared=30_000),
                AGREEMENT.format(agreement=0.5, compared=10_000),
            ]
        )
    )
    labels = (("data_type", "wine"), ("model", "lr"))
    assert merged[("modelserve_shadow_agreement", (*labels, ("window", "start")))] == (
        pytest.approx(0.8)
    )
    assert merged[("modelserve_shadow_agreement", (*labels, ("window", "last10000")))] == (
        pytest.approx(0.7)
    )
    compared = ("modelserve_shadow_records_total", (*labels, ("outcome", "compared")))
    assert merged[compared] == 40_000
