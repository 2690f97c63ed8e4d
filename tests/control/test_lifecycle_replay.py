"""ModelLifecycle.replay against apply record by record, on the same logs: the same registry,
routes and refusals, with only what serves at the end loaded. Random logs on a stand-in
loader, and the walk-back on real ONNX models."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from service.control.descriptor import ModelDescriptor
from service.control.events import ModelEvent
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loaded, Loader, warm_up
from service.control.replay import ControlRecord
from service.errors import ModelLoadError
from service.http.views import model_info
from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_spec import route_key
from service.settings import Settings
from tests.control.test_lifecycle import Harness, onnx_doc
from tests.models import ModelFiles
from tests.routing.stubs import Scaled

ROUTES: list[bytes | None] = [
    orjson.dumps({"kind": "route", "dataType": "d", "mode": "canary", "weights": {"a": 1, "b": 2}}),
    orjson.dumps(
        {"kind": "route", "dataType": "d", "mode": "shadow", "primary": "c", "shadows": ["a"]}
    ),
    b'{"kind": "route", "dataType": "d", "mode": "nonsense"}',
    None,
]


class Ticking:
    """A clock that moves on at every reading, so that history times order the same way in
    both runs."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class StandInLoader(Loader):
    """Any descriptor loads as a small regressor, but the (name, version)s in ``broken``."""

    def __init__(self, broken: set[tuple[str, int]] | None = None) -> None:
        super().__init__(Settings())
        self.broken = broken or set()
        self.loads: list[tuple[str, int]] = []

    async def load(self, descriptor: ModelDescriptor) -> Loaded:
        key = (descriptor.name, descriptor.version or 0)
        self.loads.append(key)
        if key in self.broken:
            raise ModelLoadError("not a model")
        model = Scaled(1.0)
        return Loaded(model, "0" * 64, warm_up(model))


class Run:
    def __init__(self, loader: Loader) -> None:
        clock = Ticking()
        self.registry = Registry(clock)
        self.loader = loader
        self.events: list[ModelEvent] = []
        self.lifecycle = ModelLifecycle(
            self.registry, loader, self._sink, Metrics(), "test", 1 << 20, clock
        )

    async def _sink(self, event: ModelEvent) -> None:
        self.events.append(event)

    def state(self) -> dict[str, Any]:
        """What /models, /routes and the scoring path see."""
        book = self.registry.book
        return {
            "models": {
                name: (
                    info["version"],
                    info["status"],
                    [(h["version"], h["status"], h["error"]) for h in info["history"]],
                )
                for name in self.registry.names()
                if (info := model_info(self.registry, name, with_history=True)) is not None
            },
            "routes": {
                data_type: (type(route).__name__, [(m.name, m.version) for m in route.members])
                for data_type, route in self.registry.routes().items()
            },
            "active": {k: v.spec for k, v in book.active.items()},
            "pending": {k: (v.spec, v.waiting_for) for k, v in book.pending.items()},
            "rejected": {k: v.error for k, v in book.rejected.items()},
        }

    def model_events(self, *statuses: str) -> list[tuple[Any, ...]]:
        return [
            (e.name, e.version, e.status, e.error, e.offset)
            for e in self.events
            if e.kind == "model" and e.status in statuses
        ]

    def all_events(self) -> list[dict[str, Any]]:
        return [e.model_dump(exclude={"at"}) for e in self.events]


async def both(records: list[ControlRecord], broken: set[tuple[str, int]]) -> tuple[Run, Run]:
    in_order, lean = Run(StandInLoader(broken)), Run(StandInLoader(broken))
    for record in records:
        await in_order.lifecycle.apply(*record)
    await lean.lifecycle.replay(records)
    for run in (in_order, lean):
        await run.lifecycle.close()
    return in_order, lean


def doc(name: str, **fields: Any) -> bytes:
    return orjson.dumps(
        {"name": name, "dataType": "d", "modelType": "ONNX", "data": "AA==", **fields}
    )


def random_log(rng: random.Random, size: int) -> list[ControlRecord]:
    items: list[tuple[str, bytes | None]] = []
    for _ in range(size):
        name, roll = rng.choice("abc"), rng.random()
        if roll < 0.1:
            items.append((route_key("d"), rng.choice(ROUTES)))
        elif roll < 0.18:
            items.append((name, None))
        elif roll < 0.21:
            items.append((name, b"{not json"))
        else:
            fields: dict[str, Any] = {}
            if rng.random() < 0.25:
                fields["version"] = rng.randint(1, 12)
            if rng.random() < 0.1:
                fields["rollback"] = True
            if rng.random() < 0.1:
                fields["expiresAt"] = rng.choice(["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"])
            if rng.random() < 0.1:
                fields["dataType"] = "e"
            items.append((name, doc(name, **fields)))
    return [ControlRecord(k.encode(), v, (), i) for i, (k, v) in enumerate(items)]


@pytest.mark.parametrize("seed", range(300))
async def test_random_logs_end_as_in_order_loading_only_what_serves(seed: int) -> None:
    in_order, lean = await both(random_log(random.Random(seed), 40), broken=set())
    assert lean.state() == in_order.state()
    serving = sorted((m.name, m.version) for m in lean.registry.all_serving())
    assert sorted(e[:2] for e in lean.model_events("loaded")) == serving
    assert sorted(lean.loader.loads) == serving  # type: ignore[attr-defined]
    # The same events, route ones included, but the loads and retirements of the versions
    # passed over (a retirement always ends one: the versions serving at the end come later).
    served = {e[4] for e in lean.model_events("loaded")}
    assert lean.all_events() == [
        e
        for e in in_order.all_events()
        if e["status"] != "retired" and (e["status"] != "loaded" or e["offset"] in served)
    ]


async def test_the_walk_back_ends_as_in_order() -> None:
    """v5 fails, v4 serves; x: v3 fails, so the stale v2 after it serves."""
    records = [
        *(ControlRecord(b"m", doc("m"), (), i) for i in range(5)),
        ControlRecord(b"x", doc("x", version=1, dataType="e"), (), 5),
        ControlRecord(b"x", doc("x", version=3, dataType="e"), (), 6),
        ControlRecord(b"x", doc("x", version=2, dataType="e"), (), 7),
    ]
    in_order, lean = await both(records, broken={("m", 5), ("x", 3)})
    assert lean.state() == in_order.state()
    assert lean.state()["models"]["m"] == (
        4,
        "serving",
        [
            *[(v, "superseded", None) for v in (1, 2, 3)],
            (4, "serving", None),
            (5, "failed", "not a model"),
        ],
    )
    assert lean.model_events("failed") == in_order.model_events("failed")
    assert lean.loader.loads == [("m", 5), ("m", 4), ("x", 3), ("x", 2)]  # type: ignore[attr-defined]
    assert lean.model_events("loaded") == [("m", 4, "loaded", None, 3), ("x", 2, "loaded", None, 7)]


async def test_a_registry_in_use_is_replayed_in_order(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish(**onnx_doc(model_files))
    records = [ControlRecord(b"wine", orjson.dumps({"name": "wine", **onnx_doc(model_files)}))] * 2
    await h.lifecycle.replay(records)
    assert h.statuses() == [("wine", 1, "loaded"), ("wine", 2, "loaded"), ("wine", 3, "loaded")]


async def test_a_corrupt_last_version_of_a_real_model_falls_back(model_files: ModelFiles) -> None:
    h = Harness()
    good = orjson.dumps({"name": "wine", **onnx_doc(model_files)})
    corrupt = orjson.dumps(
        {"name": "wine", **onnx_doc(model_files, data=base64.b64encode(b"corrupt").decode())}
    )
    records = [ControlRecord(b"wine", good, (), i) for i in range(20)]
    await h.lifecycle.replay([*records, ControlRecord(b"wine", corrupt, (), 20)])
    assert h.statuses() == [("wine", 20, "loaded"), ("wine", 21, "failed")]
    assert [e["offset"] for e in h.events] == [19, 20]
    info = model_info(h.registry, "wine", with_history=True)
    assert info is not None and (info["version"], info["status"]) == (20, "serving")
    assert [h["status"] for h in info["history"]] == ["superseded"] * 19 + ["serving", "failed"]
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.version == 20
