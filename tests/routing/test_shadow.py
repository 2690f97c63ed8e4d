"""Shadow mode through the engine: the primary answers exactly as alone; the shadow's answers
come after, beside the primary's, with agreement counted; a shadow's failures, timeouts and
overload cost the records nothing."""

from __future__ import annotations

import asyncio
import threading

import orjson
import pytest

from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_stats import ShadowStats
from service.routing.routes import stable_fraction
from service.scoring.engine import Engine
from service.scoring.outcome import SideOutcome
from service.scoring.predictions import side_document
from service.state.routes import ShadowState
from service.state.shapes import encode
from tests.routing.stubs import Scaled, Threshold, declare, install, records


def shadow_stats(registry: Registry) -> ShadowStats:
    stats = registry.book.active["d"].stats
    assert isinstance(stats, ShadowStats)
    return stats


async def sides_of(scored_sides: list[asyncio.Future[list[SideOutcome]]]) -> list[SideOutcome]:
    return [o for side in scored_sides for o in await side]


async def test_the_primary_answers_and_the_shadow_answers_beside_it() -> None:
    registry = Registry()
    primary, shadow = Threshold(), Threshold(shift=1)
    install(registry, "a", primary)
    install(registry, "b", shadow)
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    xs = [0, 1, 2, 3, 4, 5, 6, 7]
    scored = await Engine(registry, Metrics(), None).score_stream(records(*xs))
    assert [o.result["label"] for o in scored.outcomes if o.result] == [
        primary.label(x) for x in xs
    ]
    assert {o.model.name for o in scored.outcomes if o.model} == {"a"}
    sides = await sides_of(scored.sides)
    documents = [side_document(s) for s in sides]
    assert [d["result"]["label"] for d in documents] == [shadow.label(x) for x in xs]
    assert [d["primary"] for d in documents] == [
        {"name": "a", "version": 1, "label": primary.label(x)} for x in xs
    ]
    assert {d["role"] for d in documents} == {"shadow"}
    assert [d["id"] for d in documents] == [o.record_id for o in scored.outcomes]
    assert [d["source"]["offset"] for d in documents] == list(range(len(xs)))
    member = shadow_stats(registry).member("b")
    # shift 1 over 3 classes never agrees with shift 0.
    assert member.compared == len(xs) and member.agreement() == 0.0


async def test_agreement_is_the_share_of_equal_labels_since_start_and_recently() -> None:
    registry = Registry()
    install(registry, "a", Threshold(classes=("a", "b")))
    install(registry, "b", Threshold(classes=("a", "b", "c")))
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    engine = Engine(registry, Metrics(), None)
    xs = list(range(30))
    for _ in range(2):
        await sides_of((await engine.score_stream(records(*xs))).sides)
    first, second = Threshold(classes=("a", "b")), Threshold(classes=("a", "b", "c"))
    expected = sum(first.label(x) == second.label(x) for x in xs) / len(xs)
    member = shadow_stats(registry).member("b")
    assert member.compared == 60
    assert member.agreement() == expected and member.window.mean() == expected
    shown = encode(ShadowState.of(member))["agreement"]
    assert shown["measure"] == "labelAgreement" and shown["sinceStart"] == round(expected, 6)


async def test_regressors_agree_by_mean_absolute_difference() -> None:
    registry = Registry()
    install(registry, "a", Scaled(1))
    install(registry, "b", Scaled(1.5))
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    scored = await Engine(registry, Metrics(), None).score_stream(records(2, 4))
    sides = await sides_of(scored.sides)
    assert [side_document(s)["primary"]["value"] for s in sides] == [2.0, 4.0]
    member = shadow_stats(registry).member("b")
    assert member.agreement() == (1.0 + 2.0) / 2 and not member.labels


async def test_a_failing_shadow_costs_the_records_nothing() -> None:
    registry = Registry()
    install(registry, "a", Scaled(1, field="x"))
    install(registry, "b", Scaled(1, field="y"))  # it cannot read these records
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    scored = await Engine(registry, Metrics(), None).score_stream(records(1, 2, 3))
    assert [o.result for o in scored.outcomes] == [{"value": 1.0}, {"value": 2.0}, {"value": 3.0}]
    assert await sides_of(scored.sides) == []
    member = shadow_stats(registry).member("b")
    assert member.errors == 3 and member.compared == 0


async def test_a_shadow_past_its_timeout_is_counted_and_the_primary_is_not_held() -> None:
    registry = Registry(shadow_timeout_s=0.05)
    gate = threading.Event()
    gate.set()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold(gate=gate))
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    gate.clear()  # the shadow hangs from now on
    engine = Engine(registry, Metrics(), None)
    scored = await engine.score_stream(records(1, 2))
    assert all(o.result is not None for o in scored.outcomes)  # answered before the shadow
    assert await sides_of(scored.sides) == []
    # The next batch finds the shadow still busy: it waits in line, and misses its time too.
    again = await engine.score_stream(records(3))
    assert await sides_of(again.sides) == []
    member = shadow_stats(registry).member("b")
    assert member.timeouts == 3 and member.compared == 0
    gate.set()


async def test_an_overloaded_shadow_skips_batches_instead_of_piling_them_up() -> None:
    registry = Registry(shadow_timeout_s=5.0)
    gate = threading.Event()
    gate.set()
    install(registry, "a", Threshold())
    shadow = Threshold(gate=gate)
    install(registry, "b", shadow)
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    gate.clear()
    engine = Engine(registry, Metrics(), None)
    batches = [await engine.score_stream(records(x)) for x in range(5)]
    calls_while_stuck = shadow.calls
    gate.set()
    sides = [await sides_of(b.sides) for b in batches]
    member = shadow_stats(registry).member("b")
    # One call running and two waiting at most: the other two batches were skipped.
    assert calls_while_stuck == 2 and member.skipped == 2  # warm-up + the first batch
    assert sum(len(s) for s in sides) == 3 and member.compared == 3


async def test_a_sample_shadows_a_stable_share_of_keys_and_request_reply_none() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold())
    declare(registry, mode="shadow", primary="a", shadows=["b"], sample=0.3)
    keys = [f"key-{i}" for i in range(400)]
    engine = Engine(registry, Metrics(), None)
    scored = await engine.score_stream(records(*[1] * 400, keys=keys))
    shadowed = [s.record.key for s in await sides_of(scored.sides)]
    assert shadowed == [k.encode() for k in keys if stable_fraction(k.encode()) < 0.3]
    assert 0.2 < len(shadowed) / 400 < 0.4
    compared = shadow_stats(registry).member("b").compared
    answered = await engine.score(records(1, 2))  # request-reply: the shadow does not run
    assert [o.model.name for o in answered if o.model] == ["a", "a"]
    assert shadow_stats(registry).member("b").compared == compared == len(shadowed)
    assert orjson.loads(registry.book.active["d"].spec.to_json())["sample"] == 0.3


async def test_a_shadow_whose_comparison_breaks_costs_the_primary_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug of ours in comparing must not fail the batch's delivery: it is logged and the
    shadow's answers are dropped."""
    registry = Registry()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold())
    declare(registry, mode="shadow", primary="a", shadows=["b"])

    def broken(_: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr("service.routing.shadow.columns_of", broken)
    scored = await Engine(registry, Metrics(), None).score_stream(records(1, 2))
    assert await sides_of(scored.sides) == []
    assert all(o.result is not None for o in scored.outcomes)


async def test_a_waiting_batch_keeps_its_model_open_through_a_new_version() -> None:
    gate = threading.Event()
    gate.set()
    registry = Registry(shadow_timeout_s=5.0)
    install(registry, "a", Threshold())
    old = Threshold(1, gate=gate)
    install(registry, "b", old)
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    gate.clear()
    engine = Engine(registry, Metrics(), None)
    first = await engine.score_stream(records(0))  # b's call hangs on the gate
    second = await engine.score_stream(records(1))  # waits in b's slot
    closed: list[bool] = []
    old.close = lambda: closed.append(True)  # type: ignore[method-assign]
    install(registry, "b", Threshold(1), version=2)  # displaces the old b
    assert closed == []  # both batches still hold it
    gate.set()
    answers = [s for batch in (first, second) for side in batch.sides for s in await side]
    assert [(s.model.version, s.result_json) for s in answers] == [
        (1, answers[0].result_json),
        (1, answers[1].result_json),
    ]
    assert closed == [True]  # closed once its last batch let go
