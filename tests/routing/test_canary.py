"""Canary mode: a stable split by key, within a few percent of the weights, the same model
for a key in every replica and after every restart."""

from __future__ import annotations

from collections import Counter

from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_stats import SplitStats
from service.routing.routes import stable_fraction
from service.scoring.engine import Engine
from tests.routing.stubs import Scaled, declare, install, records


def test_the_key_hash_is_fixed_across_processes_and_releases() -> None:
    """Pinned values: a switch to a salted or different hash would move keys between models
    (and between replicas that run different releases)."""
    assert stable_fraction(b"customer-1") == 0.9540507350117989
    assert stable_fraction(b"") == 0.8931675160897388


def canary_registry() -> Registry:
    registry = Registry()
    install(registry, "a", Scaled(1))
    install(registry, "b", Scaled(2))
    declare(registry, mode="canary", weights={"a": 90, "b": 10})
    return registry


async def test_a_canary_splits_keys_by_weight_the_same_way_in_every_replica() -> None:
    keys = [f"customer-{i}" for i in range(10_000)]
    batch = records(*range(10_000), keys=keys)
    first = await Engine(canary_registry(), Metrics(), None).score(batch)
    # Another replica, or this one restarted: a registry built afresh from the same records.
    second = await Engine(canary_registry(), Metrics(), None).score(list(reversed(batch)))
    chosen = {o.record.key: o.model.name for o in first if o.model}
    assert chosen == {o.record.key: o.model.name for o in second if o.model}
    shares = Counter(chosen.values())
    assert abs(shares["a"] / 10_000 - 0.90) <= 0.03 and abs(shares["b"] / 10_000 - 0.10) <= 0.03
    # Each record is answered by the model it went to, and says so.
    for outcome in first:
        assert outcome.model is not None and outcome.result is not None
        factor = 1 if outcome.model.name == "a" else 2
        assert outcome.result["value"] == factor * outcome.record.offset


async def test_without_a_key_the_record_id_is_hashed_and_stats_count_each_share() -> None:
    registry = canary_registry()
    engine = Engine(registry, Metrics(), None)
    keyless = [r.__class__(r.value, None, topic="in", partition=0, offset=7) for r in records(1)]
    answers = {o.model.name for _ in range(5) for o in await engine.score(keyless) if o.model}
    assert len(answers) == 1  # the same id, the same model
    stats = registry.book.active["d"].stats
    assert isinstance(stats, SplitStats) and sum(stats.answered.values()) == 5
