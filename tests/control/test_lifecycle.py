"""The model lifecycle on real models and a real loader, with events captured in a list."""

import base64
from datetime import timedelta
from importlib.metadata import version
from typing import Any

import onnxruntime as ort
import orjson
import pytest

from service.clock import Clock
from service.control.descriptor import ControlLimits
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loader
from service.http.views import model_info
from service.metrics import Metrics
from service.routing.registry import Registry
from service.serving.events import ModelEvent
from service.settings import Settings
from service.wine import WINE_FIELDS
from tests.fake_clock import START, FakeClock
from tests.models import ModelFiles


class Harness:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.registry = Registry(clock)
        self.events: list[dict[str, Any]] = []
        self.lifecycle = ModelLifecycle(
            self.registry,
            Loader(settings or Settings()),
            self._sink,
            Metrics(),
            "test",
            ControlLimits(10**8),
            clock,
        )

    async def _sink(self, event: ModelEvent) -> None:
        self.events.append(event.model_dump(by_alias=True))

    async def publish(self, name: str = "wine", **fields: Any) -> None:
        await self.lifecycle.apply(name.encode(), orjson.dumps({"name": name, **fields}))

    def statuses(self) -> list[tuple[Any, ...]]:
        return [(e["name"], e["version"], e["status"]) for e in self.events]


def onnx_doc(files: ModelFiles, **extra: Any) -> dict[str, Any]:
    return {
        "dataType": "wine",
        "modelType": "ONNX",
        "inputs": list(WINE_FIELDS),
        "data": base64.b64encode(files.forest_onnx.read_bytes()).decode(),
        **extra,
    }


async def test_versions_swap_and_bad_models_never_replace_the_serving_one(
    model_files: ModelFiles,
) -> None:
    h = Harness()
    await h.publish(**onnx_doc(model_files))
    first = h.registry.serving_for("wine")
    assert first is not None and first.version == 1

    await h.publish(**onnx_doc(model_files, data=base64.b64encode(b"corrupt").decode()))
    assert h.registry.serving_for("wine") is first
    await h.publish(**onnx_doc(model_files, version=1))  # not newer than serving
    assert h.registry.serving_for("wine") is first
    await h.publish(**onnx_doc(model_files, inputs=["just-one"]))  # wrong width: fails warm-up/bind
    assert h.registry.serving_for("wine") is first

    await h.publish(**onnx_doc(model_files))
    second = h.registry.serving_for("wine")
    assert second is not None and second.version == 4
    assert h.statuses() == [
        ("wine", 1, "loaded"),
        ("wine", 2, "failed"),
        ("wine", 1, "rejected"),
        ("wine", 3, "failed"),
        ("wine", 4, "loaded"),
    ]
    runtime = f"onnxruntime {ort.__version__}"
    assert [e["runtime"] for e in h.events] == [runtime, None, None, None, runtime]
    info = model_info(h.registry, "wine", with_history=True)
    assert info is not None and info["version"] == 4 and info["status"] == "serving"
    history = [(e["version"], e["status"]) for e in info["history"]]
    assert history == [
        (1, "superseded"),
        (2, "failed"),
        (1, "rejected"),
        (3, "failed"),
        (4, "serving"),
    ]
    failed = next(e for e in info["history"] if e["version"] == 2)
    assert "not an ONNX model" in failed["error"]


async def test_rollback_tombstone_and_undecodable(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish(**onnx_doc(model_files, version=3))
    await h.publish(**onnx_doc(model_files, version=2, rollback=True))
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.version == 2

    await h.lifecycle.apply(b"wine", b"{not json")
    assert h.registry.serving_for("wine") is serving
    assert h.events[-1]["status"] == "rejected" and "not JSON" in h.events[-1]["error"]

    await h.lifecycle.apply(b"wine", None)
    assert h.registry.serving_for("wine") is None
    assert h.events[-1]["status"] == "retired"
    info = model_info(h.registry, "wine")
    assert info is not None and info["status"] in ("retired", "rejected")


async def test_another_name_for_the_same_data_type_takes_over(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish("a", **onnx_doc(model_files))
    await h.publish("b", **onnx_doc(model_files))
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.name == "b"
    info = model_info(h.registry, "a")  # loaded still, for a route to name
    assert info is not None and info["status"] == "standby"


async def test_pmml_model_and_unsupported_pickle(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish(
        "p",
        dataType="wine",
        modelType="pmml",
        data=base64.b64encode(model_files.forest_pmml.read_bytes()).decode(),
    )
    assert h.statuses() == [("p", 1, "loaded")]
    # make install includes the reference evaluator, so auto picks it
    assert h.events[-1]["runtime"] == f"jpmml-evaluator {version('jpmml-evaluator')}"
    assert (model_info(h.registry, "p") or {})["runtime"] == h.events[-1]["runtime"]
    await h.publish("k", dataType="other", modelType="PICKLE", data="AA==")
    assert h.events[-1]["status"] in ("rejected", "failed")
    assert h.registry.serving_for("other") is None


async def test_expiry_fires_when_the_clock_reaches_it_and_past_expiry_is_refused(
    model_files: ModelFiles,
) -> None:
    clock = FakeClock()
    h = Harness(clock=clock)
    expires = START + timedelta(minutes=5)
    await h.publish(**onnx_doc(model_files, expiresAt=expires.isoformat()))
    assert h.registry.serving_for("wine") is not None
    await clock.until_sleepers(expires)
    await clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    assert h.registry.serving_for("wine") is not None  # not a moment early
    await clock.advance(timedelta(microseconds=1))
    assert h.registry.serving_for("wine") is None
    await clock.until_sleepers()
    await h.lifecycle.close()  # the expiry's event, on its way out
    assert h.statuses() == [("wine", 1, "loaded"), ("wine", 1, "expired")]
    assert h.events[-1]["offset"] is None  # no control record caused it
    info = model_info(h.registry, "wine", with_history=True)
    assert info is not None and info["status"] == "expired"
    assert info["history"][-1]["until"] == expires.isoformat().replace("+00:00", "Z")
    # A descriptor that arrives at or after its instant is refused as expired, never loaded.
    await h.publish(**onnx_doc(model_files, expiresAt=clock.now().isoformat()))
    assert h.statuses()[-1] == ("wine", 2, "expired")
    assert h.registry.serving_for("wine") is None
    await clock.until_sleepers()


async def test_a_newer_version_or_a_retirement_stops_the_expiry_of_the_one_before(
    model_files: ModelFiles,
) -> None:
    clock = FakeClock()
    h = Harness(clock=clock)
    soon = START + timedelta(seconds=10)
    await h.publish(**onnx_doc(model_files, expiresAt=soon.isoformat()))
    await clock.until_sleepers(soon)
    await h.publish(**onnx_doc(model_files))  # v2, no expiry: v1's timer must not end it
    await clock.until_sleepers()
    await clock.advance(timedelta(seconds=20))
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.version == 2
    later = clock.now() + timedelta(seconds=10)
    await h.publish(**onnx_doc(model_files, expiresAt=later.isoformat()))  # v3 expires...
    await clock.until_sleepers(later)
    await h.lifecycle.apply(b"wine", None)  # ...but is retired first
    await clock.until_sleepers()
    await clock.advance(timedelta(seconds=20))
    await h.lifecycle.close()
    assert [s[2] for s in h.statuses()] == ["loaded", "loaded", "loaded", "retired"]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "http://example.invalid/m.onnx"])
async def test_locations_off_the_allow_list_are_refused(
    model_files: ModelFiles, location: str
) -> None:
    h = Harness()
    await h.publish(**onnx_doc(model_files, data=None, location=location, sha256="0" * 64))
    assert h.events[-1]["status"] == "rejected"
    assert "allowed" in h.events[-1]["error"]


async def test_file_location_under_the_allow_list(model_files: ModelFiles, tmp_path: Any) -> None:
    import hashlib
    import os

    artifact = model_files.forest_onnx.read_bytes()
    (tmp_path / "m.onnx").write_bytes(artifact)
    os.symlink("/etc/hostname", tmp_path / "escape.onnx")
    h = Harness(Settings(allowed_locations=[f"file://{tmp_path}/"]))
    digest = hashlib.sha256(artifact).hexdigest()
    await h.publish(
        **onnx_doc(model_files, data=None, location=f"file://{tmp_path}/m.onnx", sha256=digest)
    )
    assert h.events[-1]["status"] == "loaded"
    await h.publish(
        **onnx_doc(model_files, data=None, location=f"file://{tmp_path}/../m.onnx", sha256=digest)
    )
    assert h.events[-1]["status"] == "rejected"
    await h.publish(
        **onnx_doc(model_files, data=None, location=f"file://{tmp_path}/escape.onnx", sha256=digest)
    )
    assert h.events[-1]["status"] == "rejected"
    await h.publish(
        **onnx_doc(model_files, data=None, location=f"file://{tmp_path}/m.onnx", sha256="1" * 64)
    )
    assert h.events[-1]["status"] == "rejected" and "sha256 mismatch" in h.events[-1]["error"]
