"""Routes through a lean replay (control/replay.py): a route whose check looks at its members'
answer shapes sees the stand-ins' as apply would have seen the loaded versions', so it ends,
and says so in its events, as in order. The reviewer's log, and its ensemble and speculative
variants; the same on generated logs is in tests/control/test_lifecycle_replay.py. Planned
first: which stand-ins the plan loads to learn their shapes, and which it does not."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.control.descriptor import ControlLimits
from service.control.replay import plan_replay
from service.control.replay_actions import Action, ControlRecord, PassOver, Refuse
from service.routing.route_spec import route_key
from tests.control.test_lifecycle_replay import both, doc, lean_events
from tests.control.test_replay import NOW, FakeLoad, log

# -- planned: which stand-ins are loaded for their shapes ------------------------------------


def route_value(**fields: Any) -> bytes:
    return orjson.dumps({"kind": "route", "dataType": "d", **fields})


def labelled(actions: list[Action[str]]) -> list[tuple[Any, ...]]:
    """Each action as kind, name:version (and a stand-in's shape, where known)."""
    out: list[tuple[Any, ...]] = []
    for action in actions:
        descriptor = getattr(action, "descriptor", None)
        label = f"{descriptor.name}:{descriptor.version}" if descriptor else None
        extra = (action.shape.kind,) if isinstance(action, PassOver) and action.shape else ()
        out.append((type(action).__name__, label, *extra))
    return out


async def test_a_stand_in_a_shadow_route_checks_is_loaded_for_its_shape_then_closed() -> None:
    """The reviewer's log: a:1 a classifier, b:1 a regressor, a shadow of a beside b, then a:2.
    The route's check sees a:1, so a:1 is loaded to learn it is a classifier, and closed."""
    records = log(
        ("a", doc("a")),
        ("b", doc("b")),
        (route_key("d"), route_value(mode="shadow", primary="b", shadows=["a"])),
        ("a", doc("a")),
    )
    load = FakeLoad(classifiers={"a:1"})
    actions = await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW)
    assert load.calls == [("a", 2), ("b", 1), ("a", 1)]
    assert load.closed == ["a:1"]
    assert labelled(actions) == [
        ("PassOver", "a:1", "classifier"),
        ("Serve", "b:1"),
        ("RouteRecord", None),
        ("Serve", "a:2"),
    ]


async def test_a_canary_route_and_a_route_that_never_sees_its_members_load_nothing_more() -> None:
    records = log(
        (route_key("d"), route_value(mode="canary", weights={"a": 1, "b": 1})),
        ("a", doc("a")),
        ("b", doc("b")),
        ("a", doc("a")),
        # Pending until c serves; c never does while a:1 stands in.
        (route_key("d"), route_value(mode="ensemble", members=["a", "c"])),
        ("a", doc("a")),
    )
    load = FakeLoad()
    actions = await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW)
    assert load.calls == [("a", 3), ("b", 1)]
    assert [a[0] for a in labelled(actions)] == [
        "RouteRecord", "PassOver", "Serve", "PassOver", "RouteRecord", "Serve"
    ]  # fmt: skip


async def test_every_version_an_active_route_sees_is_loaded_in_one_round() -> None:
    """A shadow over a learner's versions checks each of them as it swaps in: all are loaded
    after one rehearsal, not one rehearsal per version."""
    records = log(
        ("b", doc("b")),
        ("a", doc("a")),
        (route_key("d"), route_value(mode="shadow", primary="b", shadows=["a"])),
        *[("a", doc("a")) for _ in range(5)],
    )
    load = FakeLoad()
    await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW)
    assert load.calls == [("b", 1), ("a", 6), *[("a", v) for v in range(1, 6)]]
    assert load.closed == [f"a:{v}" for v in range(1, 6)]


def rollback_under_shadow() -> list[ControlRecord]:
    """b; a:1, a:9, a:5 (a rollback); a shadow route b -> a; then a:7."""
    return log(
        ("b", doc("b")),
        ("a", doc("a", version=1)),
        ("a", doc("a", version=9)),
        ("a", doc("a", version=5, rollback=True)),
        (route_key("d"), route_value(mode="shadow", primary="b", shadows=["a"])),
        ("a", doc("a", version=7)),
    )


async def test_a_stand_in_failing_its_shape_load_is_failed_and_its_name_refolds() -> None:
    """a:5 (a rollback from 9) fails when the route's check loads it: then 7, which served
    after it, is stale behind 9, and 9 serves at the end: loaded, and 7 closed."""
    records = rollback_under_shadow()
    load = FakeLoad(broken={("a", 5)})
    actions = await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW)
    assert load.calls == [("b", 1), ("a", 7), ("a", 5), ("a", 9)]
    assert load.closed == ["a:7"]
    assert labelled(actions) == [
        ("Serve", "b:1"),
        ("PassOver", "a:1"),
        ("Serve", "a:9"),
        ("Refuse", "a:5"),
        ("RouteRecord", None),
        ("Refuse", "a:7"),
    ]
    assert [a.status for a in actions if isinstance(a, Refuse)] == ["failed", "rejected"]


# -- carried out: the routes and events of apply ---------------------------------------------


def reviewer_log(route: dict[str, Any], a1: str, b1: str, a2: str) -> list[ControlRecord]:
    """a:1, b:1, the route, a:2 (of the kinds given)."""
    body = orjson.dumps({"kind": "route", "dataType": "d", **route})
    items = [
        (b"a", doc("a", metadata={"kind": a1})),
        (b"b", doc("b", metadata={"kind": b1})),
        (route_key("d").encode(), body),
        (b"a", doc("a", metadata={"kind": a2})),
    ]
    return [ControlRecord(k, v, (), i) for i, (k, v) in enumerate(items)]


async def test_reviewer_log_a_shadow_over_a_stand_in_of_another_kind_is_rejected() -> None:
    """a:1 a classifier, b:1 a regressor, a shadow of a beside b, then a:2 a regressor: in
    order the route is rejected and a:2 answers alone. The lean replay passes a:1 over; its
    stand-in used to have no shape, which the check let through: the route ended active over
    [b:1, a:2]."""
    records = reviewer_log(
        {"mode": "shadow", "primary": "b", "shadows": ["a"]}, "classifier", "regressor", "regressor"
    )
    in_order, lean = await both(records, broken=set())
    for run in (in_order, lean):
        assert run.state()["routes"] == {"d": ("SingleRoute", [("a", 2)])}
        assert run.state()["active"] == {}
        assert run.route_events() == [
            (
                "rejected",
                "shadow",
                "a shadow must answer as its primary does "
                "(b is a regressor, a is a classifier of ['a', 'b', 'c'])",
            )
        ]
    assert lean.state() == in_order.state()
    assert lean.all_events() == lean_events(in_order, lean)
    assert lean.loader.loads == [("a", 2), ("b", 1), ("a", 1)]
    assert lean.loader.closed == [("a", 1)]


@pytest.mark.parametrize(
    "route",
    [
        {"mode": "ensemble", "members": ["a", "b"], "combine": "vote"},
        {"mode": "speculative", "candidates": ["a", "b"], "deadlineMs": 20,
         "decider": "most-confident"},
    ],
    ids=["ensemble-vote", "most-confident"],
)  # fmt: skip
async def test_a_route_over_stand_ins_is_rejected_once_as_in_order(route: dict[str, Any]) -> None:
    """a:1, b:1 regressors, the route, a:2, b:2: in order rejected at once; when a:1 and b:1
    stood in with no shape it went active, and was rejected only when a:2 swapped in (the
    same end, other events)."""
    # Both members stand in when the route is declared.
    b_2 = ControlRecord(b"b", doc("b", metadata={"kind": "regressor"}), (), 4)
    records = [*reviewer_log(route, "regressor", "regressor", "regressor"), b_2]
    in_order, lean = await both(records, broken=set())
    assert [e[0] for e in in_order.route_events()] == ["rejected"]
    assert lean.route_events() == in_order.route_events()
    assert lean.state() == in_order.state()
    assert lean.all_events() == lean_events(in_order, lean)


async def test_a_stand_in_that_fails_when_a_route_needs_its_shape_fails_as_in_order() -> None:
    """a:5 (a rollback) fails when the shadow route's check loads it: as in order, it is
    failed, 7 is then stale behind 9, and 9 serves with its shadow."""
    records = rollback_under_shadow()
    in_order, lean = await both(records, broken={("a", 5)})
    assert lean.state() == in_order.state()
    assert lean.state()["routes"] == {"d": ("ShadowRoute", [("b", 1), ("a", 9)])}
    assert lean.all_events() == lean_events(in_order, lean)
    assert lean.model_events("failed") == [("a", 5, "failed", "not a model", 3)]
    assert sorted(lean.loader.closed) == [("a", 7)]
