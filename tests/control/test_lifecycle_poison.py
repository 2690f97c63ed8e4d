"""Property-based: no sequence of control records can stop the control plane (issue 18).

Every replica reads the whole control topic at start: a record that made ``apply`` or
``replay`` raise would stop them all, for good, and one that left a version or a piece of
metadata the state documents cannot encode would take ``/models`` and the stats snapshots
down with it. Records here mix junk (keys, bytes, JSON) with descriptors of a real small
model, as JSON and as protobuf, with versions at and past int64 and metadata nested past the
limit. Then the exact regression: version 2**64-1 was loaded, and a descriptor without a
version after 2**63-1 was given one no encoder could write."""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cluster.snapshot import Identity, SnapshotTaker
from service.control.descriptor import ControlLimits
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loader
from service.control.replay_actions import ControlRecord
from service.http.views import model_info, model_infos
from service.metrics import Metrics
from service.proto.model_descriptor_pb2 import ModelDescriptor as ModelDescriptorProto
from service.routing.registry import Registry
from service.serving.descriptor import MAX_VERSION
from service.serving.events import ModelEvent
from service.settings import Settings
from service.wine import WINE_FIELDS
from tests.models import ModelFiles

NAMES = ("a", "b", "wine")
UNFORESEEN = "could not apply it"
PROTOBUF = (("content-type", b"application/x-protobuf"),)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
ROUTES: list[dict[str, Any]] = [
    {"dataType": "wine", "mode": "canary", "weights": {"a": 1, "b": 2}},
    {"dataType": "wine", "mode": "shadow", "primary": "a", "shadows": ["b"]},
    {"dataType": "wine", "mode": "ensemble", "members": ["a", "wine"]},
    {"dataType": "beer", "mode": "canary", "weights": {"a": 1}},
]
EXTRA = {
    "rollback": st.booleans(),
    "dataType": st.sampled_from(["wine", "beer", "\u202e"]),
    "description": st.text(max_size=20),
    "expiresAt": st.sampled_from(["2001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]),
}
# Versions as JSON text: valid ones, the edges of int64 and uint64, and past them.
VERSIONS = [b"1", b"2", b"3", b"9223372036854775806", str(MAX_VERSION).encode()]
VERSIONS += [b"9223372036854775808", b"18446744073709551615", b"1" + b"0" * 5000, b"0", b"-1"]


class Harness:
    """A lifecycle over a fresh registry, with its events kept."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.metrics = Metrics()
        self.events: list[ModelEvent] = []
        self.lifecycle = ModelLifecycle(
            self.registry, Loader(Settings()), self._sink, self.metrics, "t", ControlLimits(10**7)
        )

    async def _sink(self, event: ModelEvent) -> None:
        self.events.append(event)

    def check(self) -> None:
        """Nothing foreseen failed, and every state document the records left encodes."""
        for e in self.events:
            assert UNFORESEEN not in (e.error or ""), e
            assert e.version is None or 1 <= e.version <= MAX_VERSION, e
            orjson.dumps(e.model_dump(by_alias=True, mode="json"))
        for name in self.registry.names():
            orjson.dumps(model_info(self.registry, name, with_history=True))
        infos = model_infos(self.registry)
        orjson.dumps({"models": infos})
        assert len(infos) == len(self.registry.names())  # none left out as unshowable
        taker = SnapshotTaker(Identity("r", None), self.registry, self.metrics, dict, 5.0)
        orjson.dumps(taker.take().document())

    def apply_all(self, records: list[ControlRecord]) -> None:
        async def apply_each() -> None:
            for offset, record in enumerate(records):
                await self.lifecycle.apply(record.key, record.value, record.headers, offset)
            await self.lifecycle.close(0.1)

        asyncio.run(apply_each())

    def serving(self) -> dict[str, tuple[str, int]]:
        return {
            dt: (route.primary.name, route.primary.version)
            for dt, route in self.registry.routes().items()
        }


def descriptor(files: ModelFiles, name: str, version: bytes | None, **extra: Any) -> bytes:
    doc = {
        "name": name,
        "dataType": "wine",
        "modelType": "ONNX",
        "inputs": list(WINE_FIELDS),
        "data": base64.b64encode(files.regressor_onnx.read_bytes()).decode(),
        **extra,
    }
    text = orjson.dumps(doc)
    return text if version is None else text[:-1] + b',"version":' + version + b"}"


def proto_descriptor(
    files: ModelFiles, name: str, version: int | None, metadata: int, number: float = 1.0
) -> bytes:
    """The descriptor as protobuf, its metadata a Struct ``metadata`` levels deep around
    ``number``."""
    message = ModelDescriptorProto(name=name, dataType="wine", modeltype=3)
    message.data = files.regressor_onnx.read_bytes()
    message.inputs.extend(WINE_FIELDS)
    if version is not None:
        message.version = version
    if metadata:
        deep: dict[str, Any] = {"m": number}
        for _ in range(metadata - 1):
            deep = {"m": deep}
        message.metadata.update(deep)
    return bytes(message.SerializeToString())


def records_of(files: ModelFiles) -> st.SearchStrategy[list[ControlRecord]]:
    def model(
        name: str, key: bytes | None, version: bytes | None, metadata: int, extra: dict[str, Any]
    ) -> ControlRecord:
        key = name.encode() if key == b"=" else key  # mostly the name, as publishers send it
        value = descriptor(files, name, version, **extra)
        if metadata:  # nested ``metadata`` levels deep under the descriptor's own object
            deep = b'{"m":' * metadata + b"1" + b"}" * metadata
            value = value[:-1] + b',"metadata":' + deep + b"}"
        return ControlRecord(key, value)

    names = st.sampled_from(NAMES)
    protos = st.builds(
        lambda name, *rest: ControlRecord(
            name.encode(), proto_descriptor(files, name, *rest), PROTOBUF
        ),
        names,
        st.sampled_from([None, 1, 2, MAX_VERSION, 0, -1, -(2**63)]),
        st.sampled_from([0, 1, 20, 49, 50, 63, 64, 90]),
        st.sampled_from([1.0, 1e308, -0.0, math.nan, math.inf]),
    )
    models = st.builds(
        model,
        names,
        st.sampled_from([b"=", b"=", b"=", None, *(n.encode() for n in NAMES)]),
        st.sampled_from([None, None, None, b"1", b"2", b"3", *VERSIONS]),
        st.sampled_from([0, 0, 0, 0, 1, 62, 63, 64, 100, 1500]),
        st.just({}) | st.fixed_dictionaries({}, optional=EXTRA),
    )
    routes = st.sampled_from(ROUTES).map(
        lambda route: ControlRecord(b"route:wine", orjson.dumps({"kind": "route", **route}))
    )
    keys = (
        st.none()
        | names.map(str.encode)
        | st.binary(max_size=12)
        | st.just(b"route:wine")
        | st.text(max_size=10).map(lambda t: t.encode("utf-8", "surrogatepass"))
    )
    values = (
        st.none()
        | st.binary(max_size=100)
        | json_values.map(orjson.dumps)
        | st.integers(1, 1500).map(lambda k: b"[" * k + b"]" * k)
    )
    headers = st.sampled_from([(), PROTOBUF])
    junk = st.builds(lambda k, v, h: ControlRecord(k, v, h), keys, values, headers)
    tombstones = keys.map(lambda key: ControlRecord(key, None))
    return st.lists(
        st.one_of(models, models, protos, routes, junk, tombstones), min_size=3, max_size=14
    )


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_control_record_stops_the_control_plane(
    model_files: ModelFiles, data: st.DataObject
) -> None:
    records = data.draw(records_of(model_files))
    applied, replayed = Harness(), Harness()
    applied.apply_all(records)
    applied.check()
    asyncio.run(replayed.lifecycle.replay(records))
    replayed.check()
    assert replayed.serving() == applied.serving()


def statuses(h: Harness) -> list[tuple[str | None, int | None, str]]:
    return [(e.name, e.version, e.status) for e in h.events]


def test_versions_past_int64_are_refused_and_none_is_assigned_past_it(
    model_files: ModelFiles,
) -> None:
    records = [
        ControlRecord(b"wine", descriptor(model_files, "wine", b"18446744073709551615")),
        ControlRecord(b"wine", descriptor(model_files, "wine", str(MAX_VERSION).encode())),
        ControlRecord(b"wine", descriptor(model_files, "wine", None)),
    ]
    h = Harness()
    h.apply_all(records)
    h.check()
    assert statuses(h) == [
        ("wine", None, "rejected"),
        ("wine", MAX_VERSION, "loaded"),
        ("wine", None, "rejected"),
    ]
    assert "version" in (h.events[0].error or "")
    assert "no version is left" in (h.events[2].error or "")
    serving = h.registry.serving_for("wine")
    assert serving is not None and serving.version == MAX_VERSION

    for replayed in (records, records[1:]):
        fresh = Harness()
        asyncio.run(fresh.lifecycle.replay(replayed))
        fresh.check()
        assert statuses(fresh) == statuses(h)[-len(replayed) :]
        assert [e.error for e in fresh.events] == [e.error for e in h.events][-len(replayed) :]
        assert fresh.serving() == h.serving() == {"wine": ("wine", MAX_VERSION)}


def test_a_protobuf_descriptor_with_nan_metadata_is_a_clean_rejection(
    model_files: ModelFiles,
) -> None:
    """A protobuf Struct holds NaN and infinities, which JSON cannot: the descriptor must be
    refused as one (not by the safety net), and must not cost the replay its plan."""
    records = [
        ControlRecord(b"b", descriptor(model_files, "b", None)),
        ControlRecord(b"b", descriptor(model_files, "b", None)),
        ControlRecord(b"a", proto_descriptor(model_files, "a", 1, 1, math.nan), PROTOBUF),
    ]
    applied, replayed = Harness(), Harness()
    applied.apply_all(records)
    asyncio.run(replayed.lifecycle.replay(records))
    # Planned, the replay loads only what serves at the end: version 1 of b never loads.
    assert statuses(replayed) == [("b", 2, "loaded"), ("a", None, "rejected")]
    replayed.check()
    assert statuses(applied)[-1] == ("a", None, "rejected")
    applied.check()
