"""ModelLifecycle.replay against apply record by record, on the same logs: the same registry,
routes and events, with only what serves at the end loaded (and what a route's check must see
the answers of). Generated logs on a stand-in loader of regressors and classifiers, routes of
every mode among them, and the walk-back on real ONNX models."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.control.descriptor import ControlLimits
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loaded, Loader, warm_up
from service.control.replay_actions import ControlRecord
from service.errors import ModelLoadError
from service.http.views import model_info
from service.inputs.schema import TypedBatch
from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.route_spec import RouteRejectedError, is_route_key, parse_route, route_key
from service.runtimes.base import BatchResult, Model
from service.serving.descriptor import ModelDescriptor
from service.serving.events import ModelEvent
from service.settings import Settings
from tests.control.test_lifecycle import Harness, onnx_doc
from tests.fake_clock import FakeClock
from tests.models import ModelFiles
from tests.routing.stubs import Scaled, Threshold

# What a stand-in loads as, by its descriptor's metadata "kind": answers of three shapes, so
# that shadows, ensembles and most-confident races can be refused for their members' shapes.
KINDS: dict[str, Callable[[], Model]] = {
    "regressor": lambda: Scaled(1.0),
    "classifier": lambda: Threshold(),
    "classifier-xy": lambda: Threshold(classes=("x", "y")),
}


class Closing:
    """A model that tells when it is closed."""

    def __init__(self, model: Model, label: tuple[str, int], closed: list[tuple[str, int]]):
        self.model, self.label, self.closed = model, label, closed
        self.runtime, self.input_schema = model.runtime, model.input_schema

    def predict(self, batch: TypedBatch) -> BatchResult:
        return self.model.predict(batch)

    def close(self) -> None:
        self.closed.append(self.label)


class StandInLoader(Loader):
    """Any descriptor loads as a small model of the kind its metadata names (a regressor
    without one), but the (name, version)s in ``broken``, and those whose metadata says
    ``broken`` unless their ``record`` (the index of theirs in the log) is ``spared``."""

    def __init__(
        self, broken: set[tuple[str, int]] | None = None, spared: frozenset[int] = frozenset()
    ) -> None:
        super().__init__(Settings())
        self.broken = broken or set()
        self.spared = spared
        self.loads: list[tuple[str, int]] = []
        self.failed: list[tuple[str, int]] = []
        self.tried: set[int] = set()  # the records of the descriptors it was asked to load
        self.closed: list[tuple[str, int]] = []

    async def load(self, descriptor: ModelDescriptor) -> Loaded:
        key = (descriptor.name, descriptor.version or 0)
        self.loads.append(key)
        record = descriptor.metadata.get("record")
        if isinstance(record, int):
            self.tried.add(record)
        if key in self.broken or (descriptor.metadata.get("broken") and record not in self.spared):
            self.failed.append(key)
            raise ModelLoadError("not a model")
        model = Closing(KINDS[descriptor.metadata.get("kind", "regressor")](), key, self.closed)
        return Loaded(model, "0" * 64, warm_up(model))


class Run:
    def __init__(self, loader: StandInLoader) -> None:
        # Moves on at every reading, so that history times order the same way in both runs.
        clock = FakeClock(tick=timedelta(milliseconds=1))
        # Members whose unknown shape a route's check looked at: none, or the check was blind.
        self.unseen: list[str] = []
        self.registry = Registry(clock, on_unknown_shape=lambda m: self.unseen.append(m.label))
        self.loader = loader
        self.events: list[ModelEvent] = []
        self.lifecycle = ModelLifecycle(
            self.registry, loader, self._sink, Metrics(), "test", ControlLimits(1 << 20), clock
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

    def route_events(self) -> list[tuple[Any, ...]]:
        return [(e.status, e.mode, e.error) for e in self.events if e.kind == "route"]


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


def lean_events(in_order: Run, lean: Run) -> list[dict[str, Any]]:
    """The events the lean replay must give: apply's, but the loads and retirements of the
    versions it passed over (a retirement always ends one: the versions serving at the end
    come later)."""
    served = {e[4] for e in lean.model_events("loaded")}
    return [
        e
        for e in in_order.all_events()
        if e["status"] != "retired" and (e["status"] != "loaded" or e["offset"] in served)
    ]


names = st.sampled_from("abc")


@st.composite
def route_records(draw: st.DrawFn) -> tuple[str, bytes | None]:
    """A route record of any mode (members drawn from the names), its removal, or nonsense."""
    data_type = draw(st.sampled_from("dde"))
    mode = draw(st.sampled_from(["shadow", "canary", "ensemble", "speculative", "x", "remove"]))
    members = draw(st.lists(names, min_size=2, max_size=3, unique=True))
    body: dict[str, Any] = {"kind": "route", "dataType": data_type, "mode": mode}
    if mode == "remove":
        return route_key(data_type), None
    if mode == "shadow":
        body |= {"primary": members[0], "shadows": members[1:]}
    elif mode == "canary":
        body["weights"] = {m: i + 1 for i, m in enumerate(members)}
    elif mode == "ensemble":
        body |= {"members": members, "combine": draw(st.sampled_from(["vote", "mean"]))}
    elif mode == "speculative":
        decider = draw(st.sampled_from(["first-listed", "most-confident"]))
        body |= {"candidates": members, "deadlineMs": 20, "decider": decider}
    return route_key(data_type), orjson.dumps(body)


@st.composite
def model_records(draw: st.DrawFn) -> tuple[str, bytes | None]:
    """A version of a name (of any kind, loading or not), its tombstone, or an unreadable
    descriptor."""
    name = draw(names)
    what = draw(st.sampled_from(["version"] * 8 + ["tombstone", "unreadable"]))
    if what == "tombstone":
        return name, None
    if what == "unreadable":
        return name, b"{not json"
    kind = draw(st.sampled_from(sorted(KINDS)))
    fields: dict[str, Any] = {"metadata": {"kind": kind, "broken": draw(st.integers(0, 5)) == 0}}
    if draw(st.booleans()):
        fields["version"] = draw(st.integers(1, 12))
    if draw(st.sampled_from([False] * 9 + [True])):
        fields["rollback"] = True
    expires = draw(st.sampled_from([None] * 8 + ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"]))
    if expires is not None:
        fields["expiresAt"] = expires
    fields["dataType"] = draw(st.sampled_from("dddde"))
    return name, doc(name, **fields)


def checks_shapes(records: list[ControlRecord]) -> bool:
    """Whether a route record in the log has a check that looks at its members' shapes."""
    for key, value, *_ in records:
        if key is not None and key.startswith(b"route:") and value is not None:
            try:
                if parse_route(key, value).checks_shapes:
                    return True
            except RouteRejectedError:
                pass
    return False


def metadata(record: ControlRecord) -> dict[str, Any] | None:
    """The metadata of a readable descriptor's record, else None."""
    if record.key is None or is_route_key(record.key) or record.value is None:
        return None
    try:
        body = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return None
    meta: dict[str, Any] = body["metadata"]
    return meta


def numbered(items: list[tuple[str, bytes | None]], failing: bool) -> list[ControlRecord]:
    """The log of ``items``, each descriptor's metadata given its ``record`` (its index),
    and ``broken`` only if ``failing``."""
    records = []
    for i, (key, value) in enumerate(items):
        record = ControlRecord(key.encode(), value, (), i)
        if (meta := metadata(record)) is not None:
            assert value is not None
            body = orjson.loads(value)
            body["metadata"] = meta | {"record": i, "broken": failing and meta["broken"]}
            record = record._replace(value=orjson.dumps(body))
        records.append(record)
    return records


def broken(records: list[ControlRecord]) -> set[int]:
    """The records whose descriptor does not load."""
    return {i for i, r in enumerate(records) if (meta := metadata(r)) and meta["broken"]}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# At least 10 records: hypothesis favours short lists, and few of those have a route whose
# check sees a version that a later one ends.
@given(
    st.lists(st.one_of(model_records(), route_records()), min_size=10, max_size=40), st.booleans()
)
async def test_generated_logs_end_as_in_order_with_the_same_events(
    items: list[tuple[str, bytes | None]], failing: bool
) -> None:
    """The lean replay against apply in order. With ``failing``, some versions do not load:
    then in order, those the lean replay never tried load (its one difference, replay.py)."""
    records = numbered(items, failing)
    lean = Run(StandInLoader())
    await lean.lifecycle.replay(records)
    in_order = Run(StandInLoader(spared=frozenset(broken(records) - lean.loader.tried)))
    for record in records:
        await in_order.lifecycle.apply(*record)
    for run in (in_order, lean):
        await run.lifecycle.close()
    assert lean.state() == in_order.state()
    assert lean.all_events() == lean_events(in_order, lean)
    assert lean.unseen == in_order.unseen == []
    assert lean.model_events("failed") == in_order.model_events("failed")
    # Loaded: what serves at the end, and the stand-ins a route's check had to see, closed.
    serving = Counter((m.name, m.version) for m in lean.registry.all_serving())
    assert Counter(e[:2] for e in lean.model_events("loaded")) == serving
    loads = Counter(lean.loader.loads) - Counter(lean.loader.failed)
    assert loads - serving == Counter(lean.loader.closed) and serving <= loads
    if not checks_shapes(records):
        assert loads == serving


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
    assert lean.loader.loads == [("m", 5), ("m", 4), ("x", 3), ("x", 2)]
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
