"""Planning a replay without Kafka or models: what each record becomes, and which versions the
walk-back loads, in which order (the stand-ins a route's check loads: tests/routing/
test_replay_routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from service.control.descriptor import ControlLimits
from service.control.replay import plan_replay
from service.control.replay_actions import (
    Action,
    ControlRecord,
    Loading,
    PassOver,
    Refuse,
    Retire,
    RouteRecord,
    Serve,
)
from service.errors import DescriptorRejectedError, ModelLoadError
from service.routing.route_spec import route_key
from service.runtimes.base import AnswerShape
from service.serving.descriptor import ModelDescriptor

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def doc(name: str = "m", **fields: Any) -> bytes:
    body = {"name": name, "dataType": "d", "modelType": "ONNX", "data": "AA==", **fields}
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def log(*items: tuple[str, bytes | None]) -> list[ControlRecord]:
    return [ControlRecord(k.encode(), v, (), i) for i, (k, v) in enumerate(items)]


REGRESSOR = AnswerShape("regressor")
CLASSIFIER = AnswerShape("classifier", ("x", "y"))


class FakeLoad:
    """Loads every (name, version) but those in ``broken`` (``refused``: the descriptor's
    fault), remembering the order, as a regressor unless ``classifiers`` has it; and the
    loads it was asked to close."""

    def __init__(
        self,
        broken: set[tuple[str, int]] | None = None,
        refused: set[tuple[str, int]] | None = None,
        classifiers: set[str] | None = None,
    ) -> None:
        self.broken = broken or set()
        self.refused = refused or set()
        self.classifiers = classifiers or set()
        self.calls: list[tuple[str, int | None]] = []
        self.closed: list[str] = []
        self.loading = Loading(self, self.shape, self.closed.append)

    def shape(self, loaded: str) -> AnswerShape:
        return CLASSIFIER if loaded in self.classifiers else REGRESSOR

    async def __call__(self, descriptor: ModelDescriptor) -> str:
        key = (descriptor.name, descriptor.version or 0)
        self.calls.append(key)
        if key in self.refused:
            raise DescriptorRejectedError("sha256 mismatch")
        if key in self.broken:
            raise ModelLoadError("not a model")
        return f"{descriptor.name}:{descriptor.version}"


def shape(actions: list[Action[str]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for action in actions:
        if isinstance(action, Retire):
            out.append(("retire",))
        elif isinstance(action, RouteRecord):
            out.append(("route",))
        elif isinstance(action, Refuse):
            version = action.descriptor.version if action.descriptor else None
            out.append((action.status, version))
        elif isinstance(action, PassOver):
            out.append(("passed", action.descriptor.version))
        else:
            assert isinstance(action, Serve) and action.loaded == f"m:{action.descriptor.version}"
            out.append(("serve", action.descriptor.version))
    return out


async def plan(records: list[ControlRecord], load: FakeLoad) -> list[tuple[Any, ...]]:
    return shape(await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW))


async def test_fifty_versions_load_only_the_last() -> None:
    load = FakeLoad()
    actions = await plan(log(*[("m", doc()) for _ in range(50)]), load)
    assert load.calls == [("m", 50)]
    assert actions == [("passed", v) for v in range(1, 50)] + [("serve", 50)]


async def test_a_tombstone_last_loads_nothing() -> None:
    load = FakeLoad()
    actions = await plan(log(*[("m", doc()) for _ in range(5)], ("m", None)), load)
    assert load.calls == []
    assert actions == [("passed", v) for v in range(1, 6)] + [("retire",)]


async def test_a_version_after_a_tombstone_serves_and_numbering_goes_on() -> None:
    load = FakeLoad()
    actions = await plan(log(("m", doc()), ("m", None), ("m", doc())), load)
    assert load.calls == [("m", 2)]
    assert actions == [("passed", 1), ("retire",), ("serve", 2)]


async def test_the_last_failing_the_one_before_serves_loaded_lazily() -> None:
    load = FakeLoad(broken={("m", 5)}, refused={("m", 4)})
    actions = await plan(log(*[("m", doc()) for _ in range(5)]), load)
    assert load.calls == [("m", 5), ("m", 4), ("m", 3)]
    assert actions == [
        ("passed", 1),
        ("passed", 2),
        ("serve", 3),
        ("rejected", 4),  # the loader blamed the descriptor
        ("failed", 5),
    ]


async def test_every_version_failing_leaves_nothing_serving() -> None:
    load = FakeLoad(broken={("m", v) for v in range(1, 4)})
    actions = await plan(log(*[("m", doc()) for _ in range(3)]), load)
    assert load.calls == [("m", 3), ("m", 2), ("m", 1)]
    assert actions == [("failed", 1), ("failed", 2), ("failed", 3)]


async def test_default_numbering_counts_every_attempt_as_in_order() -> None:
    """As apply numbers them: highest seen + 1, whatever became of the versions seen (rejected,
    expired, retired, unreadable ones do not count: they have no version)."""
    past = (NOW - timedelta(days=1)).isoformat()
    records = log(
        ("m", doc()),  # 1
        ("m", doc(version=7)),
        ("m", doc(version=3)),  # stale: rejected, still the highest is 7
        ("m", b"{not json"),
        ("m", doc()),  # 8
        ("m", doc(expiresAt=past)),  # 9, expired
        ("m", None),
        ("m", doc()),  # 10
    )
    load = FakeLoad()
    actions = await plan(records, load)
    assert actions == [
        ("passed", 1),
        ("passed", 7),
        ("rejected", 3),
        ("rejected", None),
        ("passed", 8),
        ("expired", 9),
        ("retire",),
        ("serve", 10),
    ]
    assert load.calls == [("m", 10)]


async def test_rollback_serves_an_older_version_and_without_it_the_old_one_is_stale() -> None:
    rolled = await plan(
        log(("m", doc(version=3)), ("m", doc(version=2, rollback=True))), FakeLoad()
    )
    assert rolled == [("passed", 3), ("serve", 2)]
    stale = await plan(log(("m", doc(version=3)), ("m", doc(version=2))), FakeLoad())
    assert stale == [("serve", 3), ("rejected", 2)]


async def test_a_failed_version_can_make_a_later_stale_one_serve() -> None:
    """v5 fails, so v4, which v5 made stale in the first fold, is not stale after all."""
    load = FakeLoad(broken={("m", 5)})
    actions = await plan(
        log(("m", doc(version=1)), ("m", doc(version=5)), ("m", doc(version=4))), load
    )
    assert load.calls == [("m", 5), ("m", 4)]
    assert actions == [("passed", 1), ("failed", 5), ("serve", 4)]


async def test_a_walk_back_past_a_failure_can_revive_a_version_it_made_stale() -> None:
    """v9 and then v8 fail: v5, stale while v8 looked alive, serves, as in order it would."""
    load = FakeLoad(broken={("m", 9), ("m", 8)})
    records = log(
        ("m", doc(version=1)),
        ("m", doc(version=8)),
        ("m", doc(version=5)),
        ("m", doc(version=9)),
    )
    actions = await plan(records, load)
    assert load.calls == [("m", 9), ("m", 8), ("m", 5)]
    assert actions == [("passed", 1), ("failed", 8), ("serve", 5), ("failed", 9)]


async def test_routes_and_unreadable_records_keep_their_place() -> None:
    route = orjson.dumps({"kind": "route", "dataType": "d", "mode": "canary", "weights": {"m": 1}})
    records = log(
        (route_key("d"), route),
        ("m", doc()),
        ("m", doc(name="other")),  # the key names another model: unreadable
        (route_key("d"), None),
        ("m", doc()),
    )
    load = FakeLoad()
    actions = await plan(records, load)
    assert actions == [("route",), ("passed", 1), ("rejected", None), ("route",), ("serve", 2)]


async def test_names_are_planned_apart() -> None:
    records = [
        ControlRecord(name.encode(), doc(name), (), i)
        for i, name in enumerate(["a", "b", "a", "b", "a"])
    ]
    load = FakeLoad(broken={("b", 2)})
    actions = await plan_replay(records, load.loading, ControlLimits(1 << 20), NOW)
    assert load.calls == [("a", 3), ("b", 2), ("b", 1)]
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["PassOver", "Serve", "PassOver", "Refuse", "Serve"]
