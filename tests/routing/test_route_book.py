"""Routes in the registry: pending until their members serve (the dataType keeps its current
answer), active, rejected with no effect, back to the latest model on removal; a member's
new version takes over inside the route; models a route does not name stand by."""

from __future__ import annotations

from datetime import timedelta

from service.control.loader import warm_up
from service.routing.registry import Registry
from service.routing.route_book import MAX_REJECTIONS_KEPT, RouteBook, RouteChange
from tests.fake_clock import START, FakeClock
from tests.routing.stubs import Scaled, Threshold, declare, descriptor, install


def statuses(changes: list[RouteChange]) -> list[str]:
    return [c.status for c in changes]


def model_status(registry: Registry, name: str) -> str:
    entry = registry.entry(name)
    assert entry is not None
    return entry.versions[-1].status


def test_a_route_waits_for_its_members_and_the_current_answer_holds_meanwhile() -> None:
    registry = Registry()
    a = install(registry, "a", Threshold())
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    (change,) = registry.take_route_changes()
    assert change.status == "pending" and change.error == "waiting for b to serve"
    route = registry.route_for("d")
    assert route is not None and route.mode == "single" and route.primary is a
    b = install(registry, "b", Threshold(shift=1))
    assert statuses(registry.take_route_changes()) == ["active"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "shadow" and route.members == (a, b)
    assert model_status(registry, "a") == model_status(registry, "b") == "serving"


def test_an_invalid_route_is_rejected_and_changes_nothing() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold(classes=("a", "b")))
    declare(registry, mode="canary", weights={"a": 50, "b": 50})
    registry.take_route_changes()
    stats = registry.book.active["d"].stats
    declare(registry, mode="ensemble", members=["a", "b"])
    (change,) = registry.take_route_changes()
    assert change.status == "rejected" and "different label sets" in (change.error or "")
    route = registry.route_for("d")
    assert route is not None and route.mode == "canary"  # the canary answers as before
    assert registry.book.active["d"].stats is stats
    assert registry.book.rejected["d"].error == change.error  # shown by /routes


def test_a_rejected_route_leaves_the_pending_one_pending() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold(classes=("a", "b")))
    declare(registry, mode="shadow", primary="a", shadows=["c"])  # pending: c
    declare(registry, mode="ensemble", members=["a", "b"])  # label sets differ: rejected
    assert statuses(registry.take_route_changes()) == ["pending", "rejected"]
    assert registry.book.pending["d"].spec.mode == "shadow"
    install(registry, "c", Threshold())
    assert statuses(registry.take_route_changes()) == ["active"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "shadow"


def test_a_pending_route_found_incompatible_when_its_members_arrive_is_rejected() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    declare(registry, mode="ensemble", members=["a", "b"], combine="mean")
    install(registry, "b", Scaled(2))
    assert statuses(registry.take_route_changes()) == ["pending", "rejected"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "single" and route.primary.name == "b"
    assert "d" not in registry.book.pending and "d" not in registry.book.active


def test_removing_a_route_returns_the_data_type_to_its_latest_model() -> None:
    registry = Registry()
    install(registry, "b", Threshold())
    install(registry, "a", Threshold())  # installed last: the latest
    declare(registry, mode="shadow", primary="b", shadows=["a"])
    route = registry.route_for("d")
    assert route is not None and route.primary.name == "b"
    registry.remove_route("d")
    assert statuses(registry.take_route_changes()) == ["active", "removed"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "single" and route.primary.name == "a"
    assert model_status(registry, "b") == "standby"


def test_a_new_version_of_a_member_takes_over_inside_the_route_with_its_stats() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    old_b = install(registry, "b", Threshold())
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    stats = registry.book.active["d"].stats
    registry.take_route_changes()
    new_b = install(registry, "b", Threshold(), version=2)
    route = registry.route_for("d")
    assert route is not None and route.mode == "shadow" and route.members[1] is new_b
    assert registry.book.active["d"].stats is stats  # the route did not change
    assert registry.take_route_changes() == []
    assert old_b is not new_b and model_status(registry, "b") == "serving"


def test_a_member_that_stops_serving_sends_its_route_back_to_pending() -> None:
    registry = Registry()
    a = install(registry, "a", Threshold())
    install(registry, "b", Threshold())
    declare(registry, mode="canary", weights={"a": 1, "b": 1})
    registry.retire("b")
    assert statuses(registry.take_route_changes()) == ["active", "pending"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "single" and route.primary is a
    install(registry, "b", Threshold(), version=2)
    assert statuses(registry.take_route_changes()) == ["active"]
    route = registry.route_for("d")
    assert route is not None and route.mode == "canary"


def test_models_a_route_does_not_name_stand_by_and_routes_name_their_own_data_type() -> None:
    registry = Registry()
    install(registry, "a", Threshold())
    install(registry, "b", Threshold())
    install(registry, "elsewhere", Threshold(), data_type="other")
    declare(registry, mode="canary", weights={"a": 1, "elsewhere": 1})
    (change,) = registry.take_route_changes()
    assert change.status == "pending"  # a model of another dataType is not a member
    declare(registry, mode="canary", weights={"a": 1})
    install(registry, "c", Threshold())  # arrives after the route: stands by
    assert [model_status(registry, n) for n in "abc"] == ["serving", "standby", "standby"]
    route = registry.route_for("d")
    assert route is not None and [m.name for m in route.members] == ["a"]


def test_a_check_tells_of_each_member_whose_shape_it_does_not_know() -> None:
    """What a replay's rehearsal learns which stand-ins to load from: the members of a route
    that checks shapes, when it checks them; never a canary's, whose check looks at none."""
    unknown: list[str] = []
    registry = Registry(on_unknown_shape=lambda member: unknown.append(member.label))
    registry.pass_over(descriptor("a"))
    registry.pass_over(descriptor("b"), warm_up(Scaled(1)))
    declare(registry, mode="canary", weights={"a": 1, "b": 1})
    assert unknown == []
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    assert set(unknown) == {"a:1"}  # b's shape is known
    registry.pass_over(descriptor("a", version=2), warm_up(Threshold()))
    assert set(unknown) == {"a:1"}  # a:2's is known too: a classifier, rejected beside b
    assert statuses(registry.take_route_changes()) == ["active", "active", "rejected"]


def test_rejections_kept_for_routes_are_bounded() -> None:
    """Junk route keys must not grow /routes without end: the newest are kept."""
    book = RouteBook()
    for i in range(MAX_REJECTIONS_KEPT + 10):
        book.reject(f"junk-{i}", None, "unreadable")
    assert len(book.rejected) == MAX_REJECTIONS_KEPT
    assert f"junk-{MAX_REJECTIONS_KEPT + 9}" in book.rejected and "junk-0" not in book.rejected


async def test_route_times_are_read_off_the_registrys_clock() -> None:
    """Pending, active and rejected routes say since when on the clock the versions' history
    is kept by, so the two agree (and a test can drive both)."""
    clock = FakeClock()
    registry = Registry(clock)
    install(registry, "a", Threshold())
    declare(registry, mode="shadow", primary="a", shadows=["b"])
    assert registry.book.pending["d"].since == START
    await clock.advance(timedelta(seconds=5))
    install(registry, "b", Scaled(1))  # a regressor shadowing a classifier
    assert registry.book.rejected["d"].at == START + timedelta(seconds=5)
    await clock.advance(timedelta(seconds=5))
    declare(registry, mode="canary", weights={"a": 1, "b": 1})
    assert registry.book.active["d"].since == START + timedelta(seconds=10)
