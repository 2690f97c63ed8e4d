"""Speculative mode: under a deadline the fast candidate answers where the slow one misses
(and wins are counted); both in time, the decider picks; none in time, the first to finish;
a candidate still busy sits out instead of piling threads up."""

from __future__ import annotations

import asyncio
import threading

from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_stats import SpeculativeStats
from service.scoring.engine import Engine
from service.state.routes import route_stats_state
from service.state.shapes import encode
from tests.routing.stubs import Threshold, declare, install, records


def stats_of(registry: Registry) -> SpeculativeStats:
    stats = registry.book.active["d"].stats
    assert isinstance(stats, SpeculativeStats)
    return stats


def race(deadline_ms: int, decider: str = "first-listed", **models: Threshold) -> Registry:
    registry = Registry()
    for name, model in models.items():
        install(registry, name, model)
    declare(
        registry,
        mode="speculative",
        candidates=list(models),
        deadlineMs=deadline_ms,
        decider=decider,
    )
    return registry


async def test_the_fast_candidate_answers_where_the_slow_one_misses_the_deadline() -> None:
    gate = threading.Event()
    gate.set()
    slow, fast = Threshold(0, gate=gate), Threshold(1)
    registry = race(20, slow=slow, fast=fast)
    gate.clear()  # the slow one cannot finish now
    engine = Engine(registry, Metrics(), None)
    outcomes = await engine.score(records(0, 1, 2))
    assert [o.model.name for o in outcomes if o.model] == ["fast"] * 3
    assert [o.result["label"] for o in outcomes if o.result] == [fast.label(x) for x in (0, 1, 2)]
    # Still busy with that batch: the slow one sits the next out instead of queueing.
    await engine.score(records(3))
    gate.set()
    stats = stats_of(registry)
    assert stats.candidates["fast"].wins == 4 and stats.candidates["slow"].wins == 0
    assert stats.candidates["slow"].timeouts == 2 and stats.candidates["fast"].timeouts == 0
    assert slow.calls == 2  # the warm-up and the first batch only
    assert stats.usage == 4 and stats.batches == 2 and stats.min_ms is not None
    shown = encode(route_stats_state("speculative", stats, []))
    assert shown["decider"] == "first-listed" and shown["deadline"] == 20


async def test_in_time_the_first_listed_answers_or_the_most_confident_row_by_row() -> None:
    registry = race(2000, slow=Threshold(0, confidence=0.6), fast=Threshold(1, confidence=0.9))
    outcomes = await Engine(registry, Metrics(), None).score(records(0, 1))
    assert [o.model.name for o in outcomes if o.model] == ["slow", "slow"]
    confident = race(
        2000,
        "most-confident",
        unsure=Threshold(0, confidence=0.6),
        sure=Threshold(1, confidence=0.9),
    )
    outcomes = await Engine(confident, Metrics(), None).score(records(0, 1))
    assert [o.model.name for o in outcomes if o.model] == ["sure", "sure"]
    assert stats_of(confident).candidates["sure"].wins == 2


async def test_when_none_finishes_by_the_deadline_the_first_to_finish_answers() -> None:
    registry = race(1, slower=Threshold(0, delay_s=0.3), slow=Threshold(1, delay_s=0.05))
    outcomes = await Engine(registry, Metrics(), None).score(records(0, 1))
    assert [o.model.name for o in outcomes if o.model] == ["slow", "slow"]
    assert all(o.result is not None for o in outcomes)  # nothing dropped


async def test_concurrent_batches_racing_busy_candidates_are_all_answered() -> None:
    """Requests beside the stream: candidates turned away by each other's slots still answer
    every record (the first listed, outside its slot), never raise."""
    registry = race(5, one=Threshold(0, delay_s=0.1), two=Threshold(1, delay_s=0.1))
    engine = Engine(registry, Metrics(), None)
    results = await asyncio.gather(*(engine.score(records(x)) for x in range(4)))
    assert all(o.result is not None for batch in results for o in batch)
    assert stats_of(registry).usage == 4
