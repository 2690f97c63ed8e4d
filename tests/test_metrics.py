"""Metrics without Kafka: a version's own series leave the exposition when its model is
unloaded, so that Prometheus' series do not grow with every version an online learner ever
published; the per-name totals go on."""

from __future__ import annotations

import orjson

from service.metrics import VERSIONS_COUNTED, Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.scoring.records import LocalRecord
from tests.routing.stubs import Scaled, install


async def score(engine: Engine, count: int) -> None:
    records = [LocalRecord(orjson.dumps({"dataType": "d", "x": float(i)})) for i in range(count)]
    outcomes = await engine.score(records)
    assert all(o.result_json is not None for o in outcomes)


async def test_an_unloaded_versions_series_are_dropped_and_the_totals_kept() -> None:
    metrics = Metrics()
    registry = Registry(on_unload=metrics.forget_version)
    engine = Engine(registry, metrics, None)
    for version in range(1, 51):  # a learner's afternoon
        install(registry, "learned", Scaled(1.0), version=version)
        await score(engine, 3)
    text = metrics.exposition().decode()
    assert 'modelserve_scoring_seconds_count{model="learned",version="50"} 1.0' in text
    assert 'version="49"' not in text and 'version="1"' not in text
    assert 'modelserve_records_scored_total{data_type="d",model="learned"} 150.0' in text
    # The snapshots' per-version counts: the newest few, and the version loaded.
    kept = sorted(v for _, v in metrics.totals.by_model)
    assert kept == list(range(50 - VERSIONS_COUNTED, 51))
    registry.retire("learned")
    assert "modelserve_scoring_seconds_count" not in metrics.exposition().decode()
