"""The registry without Kafka or real models: versions, the atomic swap of a dataType's route,
and what a displaced model goes through."""

from __future__ import annotations

from service.inputs.schema import InputSchema, TypedBatch
from service.routing.registry import MAX_REFUSED_NAMES, Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.serving.descriptor import ModelDescriptor


class Stub:
    input_schema = InputSchema.numeric(["x"])
    runtime = RuntimeInfo("stub", "1")

    def __init__(self) -> None:
        self.closed = False

    def predict(self, batch: TypedBatch) -> BatchResult:
        return BatchResult("regressor", batch.size, values=batch.matrix()[:, 0])

    def close(self) -> None:
        self.closed = True


def descriptor(name: str, data_type: str = "d", version: int | None = None) -> ModelDescriptor:
    doc = {"name": name, "dataType": data_type, "modelType": "ONNX", "data": "AA=="}
    return ModelDescriptor.model_validate({**doc, "version": version})


def test_install_swaps_the_route_and_closes_the_displaced_version_after_its_batch() -> None:
    registry = Registry()
    old_model, new_model = Stub(), Stub()
    old = registry.install(descriptor("a", version=1), old_model, "0" * 64)
    route = registry.route_for("d")
    assert route is not None and route.mode == "single" and route.members == (old,)
    old.acquire()  # a batch is scoring on it
    new = registry.install(descriptor("a", version=2), new_model, "1" * 64)
    assert registry.serving_for("d") is new
    assert not old_model.closed  # still in use by its batch
    old.release()
    assert old_model.closed
    entry = registry.entry("a")
    assert entry is not None and [v.status for v in entry.versions] == ["superseded", "serving"]


def test_another_name_takes_the_data_type_and_the_first_stands_by() -> None:
    """Every name's latest version stays loaded, ready for a route to name it; the dataType's
    most recently installed model answers, and the others answer again when it goes."""
    registry = Registry()
    a_model = Stub()
    a = registry.install(descriptor("a", version=1), a_model, "0" * 64)
    b = registry.install(descriptor("b", version=1), Stub(), "1" * 64)
    assert registry.serving_for("d") is b and not a_model.closed
    statuses = {n: e.versions[-1].status for n in "ab" if (e := registry.entry(n))}
    assert statuses == {"a": "standby", "b": "serving"}
    registry.retire("b")
    assert registry.serving_for("d") is a
    entry = registry.entry("a")
    assert entry is not None and entry.versions[-1].status == "serving"
    registry.install(descriptor("b", version=2, data_type="other"), Stub(), "2" * 64)
    assert registry.serving_for("d") is a and registry.serving_for("other") is not None


def test_retire_and_expire_end_the_route() -> None:
    registry = Registry()
    registry.install(descriptor("a", version=3), Stub(), "0" * 64)
    assert registry.expire("a", 2) is None  # not the serving version: nothing happens
    assert registry.route_for("d") is not None
    assert registry.expire("a", 3) is not None
    assert registry.route_for("d") is None and registry.all_serving() == []
    registry.install(descriptor("a", version=4), Stub(), "0" * 64)
    assert registry.retire("a") is not None and registry.serving_count() == 0


def test_history_keeps_the_newest_versions_of_a_prolific_name() -> None:
    """A learner publishes for ever: a name keeps its newest MAX_HISTORY versions, and the
    version rule still reads the highest."""
    from service.routing.history import MAX_HISTORY

    registry = Registry()
    for version in range(1, MAX_HISTORY + 101):
        registry.install(descriptor("m", version=version), Stub(), "0" * 64)
    entry = registry.entry("m")
    assert entry is not None and len(entry.versions) == MAX_HISTORY
    assert entry.versions[0].version == 101 and entry.highest_version() == MAX_HISTORY + 100


def test_a_version_is_reported_unloaded_once_its_last_batch_lets_go() -> None:
    unloaded: list[tuple[str, int]] = []
    registry = Registry(on_unload=lambda name, version: unloaded.append((name, version)))
    first = registry.install(descriptor("m", version=1), Stub(), "0" * 64)
    first.acquire()  # a batch in flight
    registry.install(descriptor("m", version=2), Stub(), "0" * 64)
    assert unloaded == []
    first.release()
    assert unloaded == [("m", 1)]
    registry.retire("m")
    assert unloaded == [("m", 1), ("m", 2)]


def test_names_that_never_served_are_kept_the_newest_only() -> None:
    """A stream of junk descriptors under ever-new names must not grow /models (and every
    snapshot) without end; a name that ever served is kept."""
    registry = Registry()
    registry.install(descriptor("real", version=1), Stub(), "0" * 64)
    registry.retire("real")
    for i in range(MAX_REFUSED_NAMES + 5):
        registry.fail(f"junk-{i}", "rejected", "invalid descriptor")
    names = registry.names()
    assert len(names) == MAX_REFUSED_NAMES + 1 and "real" in names
    assert "junk-0" not in names and f"junk-{MAX_REFUSED_NAMES + 4}" in names
    registry.fail("real", "rejected", "stale")  # a refusal of a name that served
    assert "real" in registry.names()
