"""Routes in the Prometheus exposition: per member and per mode, read from the routes' stats."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_metrics import RouteCollector
from service.scoring.engine import Engine
from tests.routing.stubs import Threshold, declare, install, records


async def test_shadow_canary_and_speculative_metrics() -> None:
    registry = Registry()
    for name, shift in (("a", 0), ("b", 1), ("c", 0)):
        install(registry, name, Threshold(shift), data_type="d")
        install(registry, name + "2", Threshold(shift), data_type="e")
    install(registry, "fast", Threshold(), data_type="f")
    install(registry, "also", Threshold(), data_type="f")
    declare(registry, "d", mode="shadow", primary="a", shadows=["b"])
    declare(registry, "e", mode="canary", weights={"a2": 1, "b2": 1})
    declare(registry, "f", mode="speculative", candidates=["fast", "also"], deadlineMs=5000)
    engine = Engine(registry, Metrics(), None)
    scored = await engine.score_stream(records(0, 1, 2, 3))
    for side in scored.sides:
        await side
    await engine.score(records(*range(100), data_type="e"))
    await engine.score(records(1, 2, 3, data_type="f"))
    prometheus = CollectorRegistry()
    prometheus.register(RouteCollector(registry))
    text = generate_latest(prometheus).decode()
    assert 'modelserve_shadow_records_total{data_type="d",model="b",outcome="compared"} 4.0' in text
    assert 'modelserve_shadow_agreement{data_type="d",model="b",window="start"} 0.0' in text
    canary = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('modelserve_route_records_total{data_type="e",mode="canary"')
    ]
    assert len(canary) == 2 and sum(canary) == 100
    assert 'modelserve_speculative_wins_total{data_type="f",model="fast"} 3.0' in text
    assert 'modelserve_speculative_timeouts_total{data_type="f",model="also"} 0.0' in text
