"""``/stats`` and the per-version counts typed: what the counters hold, written as the untyped
``Totals.as_dict`` wrote it."""

from __future__ import annotations

import orjson

from service.metrics import Metrics
from service.state.process import models_scored, process_stats
from service.state.shapes import encode
from tests.state import legacy_views
from tests.state.scenario import busy_registry


async def test_the_totals_show_as_the_untyped_view_showed_them() -> None:
    registry, metrics = await busy_registry()
    models = registry.serving_count()
    shown = encode(process_stats(metrics.totals, models))
    expected = legacy_views.totals_dict(metrics.totals, models)
    # Uptime is read from the clock at each call: the rest must be the same bytes.
    assert orjson.dumps({**shown, "uptime": 0}) == orjson.dumps({**expected, "uptime": 0})
    assert shown["deadLetters"] == {"invalid-record": 1, "no-model": 2}
    assert shown["consumed"] == 60 and shown["models"] == models


def test_uptime_is_from_the_start_of_the_counters() -> None:
    metrics = Metrics()
    shown = process_stats(metrics.totals, 0, clock=lambda: metrics.totals.started + 12.3456)
    assert shown.uptime == 12.346 and shown.avg_batch_size == 0.0


def test_each_version_scored_is_shown_in_name_and_version_order() -> None:
    metrics = Metrics()
    metrics.record_batch("rf", 4, "wine", 10, 0.002)
    metrics.record_batch("lr", 1, "wine", 3, 0.0005)
    metrics.record_batch("rf", 4, "wine", 5, 0.001)
    assert [encode(m) for m in models_scored(metrics.totals)] == [
        {
            "name": "lr",
            "version": 1,
            "dataType": "wine",
            "records": 3,
            "batches": 1,
            "scoringMs": 0.5,
        },
        {
            "name": "rf",
            "version": 4,
            "dataType": "wine",
            "records": 15,
            "batches": 2,
            "scoringMs": 3.0,
        },
    ]
