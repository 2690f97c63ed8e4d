"""Route records through the lifecycle, as the control reader feeds them: each change of a
route is an event (kind route, named by its key, with the record's offset), a model record
can activate a pending route, and what cannot be read is rejected without effect."""

from __future__ import annotations

from typing import Any

import orjson

from service.routing.route_spec import route_key
from tests.control.test_lifecycle import Harness, onnx_doc
from tests.models import ModelFiles


async def route(h: Harness, value: dict[str, Any] | bytes | None, offset: int) -> None:
    body = (
        value
        if isinstance(value, bytes | None)
        else orjson.dumps({"kind": "route", "dataType": "wine", **value})
    )
    await h.lifecycle.apply(route_key("wine").encode(), body, offset=offset)


def route_events(h: Harness) -> list[tuple[Any, ...]]:
    return [
        (e["status"], e["offset"], e["mode"], e["members"], e["error"])
        for e in h.events
        if e["kind"] == "route"
    ]


async def test_route_records_become_route_events(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish("a", **onnx_doc(model_files))
    await route(h, {"mode": "shadow", "primary": "a", "shadows": ["b"]}, offset=1)
    await h.lifecycle.apply(b"b", orjson.dumps({"name": "b", **onnx_doc(model_files)}), offset=2)
    await route(h, {"mode": "canary", "weights": {"a": -1}}, offset=3)
    await route(h, b"not json", offset=4)
    await route(h, None, offset=5)
    assert route_events(h) == [
        ("pending", 1, "shadow", ["a", "b"], "waiting for b to serve"),
        ("active", 2, "shadow", ["a", "b"], None),  # caused by b's descriptor
        ("rejected", 3, None, None, "weights: weight of 'a' is -1.0: weights must be positive"),
        (
            "rejected",
            4,
            None,
            None,
            "route is not JSON: invalid literal, expected 'null': line 1 column 1 (char 0)",
        ),
        ("removed", 5, "shadow", ["a", "b"], None),
    ]
    names = {e["name"] for e in h.events if e["kind"] == "route"}
    assert names == {"route:wine"}
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.name == "b"  # back to the latest model


async def test_a_retired_member_sends_its_route_back_to_pending(model_files: ModelFiles) -> None:
    h = Harness()
    await h.publish("a", **onnx_doc(model_files))
    await h.publish("b", **onnx_doc(model_files))
    await route(h, {"mode": "ensemble", "members": ["a", "b"]}, offset=3)
    await h.lifecycle.apply(b"b", None, offset=4)
    assert [(s, o) for s, o, *_ in route_events(h)] == [("active", 3), ("pending", 4)]
    assert [e["status"] for e in h.events if e["kind"] == "model"] == [
        "loaded",
        "loaded",
        "retired",
    ]


async def test_a_route_key_longer_than_any_data_type_is_refused_cut_short() -> None:
    h = Harness()
    await h.lifecycle.apply(b"route:" + b"d" * 1_000_000, b'{"mode": "shadow"}', offset=3)
    (event,) = [e for e in h.events if e["kind"] == "route"]
    assert event["status"] == "rejected" and "at most 256 characters" in event["error"]
    assert len(event["name"]) < 300
    assert all(len(dt) <= 257 for dt in h.registry.book.rejected)
