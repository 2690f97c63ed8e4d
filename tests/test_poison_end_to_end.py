"""Issue 18's reproductions on the real broker, through the contract: poison records, poison
descriptors and poison requests each end as a dead letter, a rejected event or a 4xx, and
after each the service is live and ready, its state answers, the next good records are scored
equal to onnxruntime, and a fresh replica on the same control log starts and serves."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import orjson

from service.proto.wine_record_pb2 import WineRecord
from service.protobuf import CONTENT_TYPE
from service.server import Service
from service.settings import Settings
from service.tools.publishing import build_descriptor
from service.wine import WINE_FIELDS
from tests.kafka_helpers import header, produce, read_until
from tests.models import ModelFiles
from tests.service_helpers import http, publish_forest, until, wine_records


def nested(depth: int) -> bytes:
    """JSON nested ``depth`` deep: the attacker's record."""
    return b"[" * depth + b"]" * depth


def forest_labels(files: ModelFiles, rows: np.ndarray) -> list[str]:
    session = ort.InferenceSession(files.forest_onnx.read_bytes())
    return [str(v) for v in session.run(None, {"X": rows})[0]]


async def good_records_are_scored(service: Service, files: ModelFiles, prefix: str) -> None:
    """100 good records after the poison: each scored, equal to onnxruntime's answer."""
    s = service.settings
    rows = files.features[100:200]
    items = [(k.encode(), orjson.dumps(v)) for k, v in wine_records(rows, prefix)]
    await produce(s.bootstrap_servers, s.data_topics[0], items)
    out = await read_until(
        s.bootstrap_servers,
        s.output_topic,
        lambda r: sum(x.key.startswith(prefix.encode()) for x in r) >= 100,
    )
    got = {
        x.key.decode(): orjson.loads(x.value)["result"]["label"]
        for x in out
        if x.key.startswith(prefix.encode())
    }
    keys = [f"{prefix}{i}" for i in range(100)]
    expected = dict(zip(keys, forest_labels(files, rows), strict=True))
    assert got == expected


async def state_answers(service: Service) -> None:
    async with http(service) as client:
        for path in ("/health/live", "/health/ready", "/models", "/metrics", "/stats"):
            answer = await client.get(path)
            assert answer.status_code == 200, (path, answer.text)

        async def cluster_view_lists_me() -> bool:
            answer = await client.get("/cluster")
            assert answer.status_code == 200, answer.text
            return str(service.settings.instance_id) in answer.text

        await until(cluster_view_lists_me)
        assert (await client.get("/snapshot")).status_code == 200


async def test_poison_records_are_dead_letters_and_scoring_goes_on(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service(stats_interval_s=0.2)
    s = service.settings
    await publish_forest(s, model_files)
    good = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
    deep_feature = orjson.dumps({"dataType": "wine", **good})[:-1] + b',"x":' + nested(1000) + b"}"
    proto = [("content-type", CONTENT_TYPE.encode())]
    json_items = [
        (b"deep-id", b'{"dataType": "nomodel", "id": ' + nested(1000) + b"}"),
        (b"deep-feature", deep_feature),
        (b"deep-array", nested(5000)),
        (b"list-id", orjson.dumps({"dataType": "wine", "id": [1, 2], **good})),
    ]
    proto_items = [
        (b"pb-empty", b""),
        (b"pb-wire", b"\x08\x01"),
        (b"pb-type-only", WineRecord(dataType="wine").SerializeToString()),
    ]
    await produce(s.bootstrap_servers, s.data_topics[0], json_items)
    await produce(s.bootstrap_servers, s.data_topics[0], proto_items, headers=proto)
    dlq = await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= 7)
    reasons = {r.key.decode(): header(r, "dlq.reason") for r in dlq}
    assert reasons == {
        "deep-id": "decode-error",
        "deep-feature": "decode-error",
        "deep-array": "decode-error",
        "list-id": "invalid-record",
        "pb-empty": "invalid-record",
        "pb-wire": "decode-error",
        "pb-type-only": "invalid-record",
    }
    errors = {r.key.decode(): header(r, "dlq.error") or "" for r in dlq}
    assert "nested deeper than 64 levels" in errors["deep-id"]
    assert "no feature" in errors["pb-empty"] and "field 1 " in errors["pb-wire"]
    await good_records_are_scored(service, model_files, "after-")
    await state_answers(service)
    async with http(service) as client:
        stats = (await client.get("/stats")).json()
    # Every record accounted for: none is scored that should not be, none lost.
    assert stats["consumed"] == 107 and stats["scored"] == 100 and stats["dlq"] == 7


async def control_events(settings: Settings, count: int) -> list[dict[str, Any]]:
    records = await read_until(
        settings.bootstrap_servers, settings.events_topic, lambda r: len(r) >= count
    )
    return [orjson.loads(r.value) for r in records]


async def test_poison_descriptors_are_refused_and_every_replica_keeps_serving(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service(stats_interval_s=0.2)
    s = service.settings
    await publish_forest(s, model_files)  # event 1
    base = build_descriptor(
        model_files.forest_onnx,
        "big",
        "wine",
        inputs=list(WINE_FIELDS),
        labels=model_files.forest_classes,
    )
    doc = orjson.loads(base.to_json())
    doc.pop("version", None)
    items = [
        (b"big", orjson.dumps({**doc, "version": 2**64 - 1})),  # over int64: rejected
        (b"big", orjson.dumps({**doc, "version": 2**63 - 1})),  # the highest: loads
        (b"big", orjson.dumps(doc)),  # no version left: rejected, not a crash
        (b"x", b'{"name": "x"}'),  # invalid: rejected, /cluster still answers
        (
            b"deep",
            orjson.dumps({**doc, "name": "deep"})[:-1] + b',"metadata":{"x":' + nested(300) + b"}}",
        ),
        (b"route:wine", b'{"mode": ' + nested(800) + b"}"),
        (b"forged", orjson.dumps({**doc, "name": "forged", "dataType": "\n2099 ERROR forged"})),
    ]
    await produce(s.bootstrap_servers, s.control_topic, items)
    events = await control_events(s, 8)
    verdicts = [(e["name"], e["status"], e.get("version")) for e in events[1:8]]
    assert verdicts == [
        ("big", "rejected", None),
        ("big", "loaded", 2**63 - 1),
        ("big", "rejected", None),
        ("x", "rejected", None),
        ("deep", "rejected", None),
        ("route:wine", "rejected", None),
        ("forged", "loaded", 1),
    ], verdicts
    assert "no version is left" in events[3]["error"]
    await good_records_are_scored(service, model_files, "after-")
    await state_answers(service)
    async with http(service) as client:
        models = {m["name"]: m for m in (await client.get("/models")).json()["models"]}
        # The newest model of dataType wine answers for it ("forged" is of another dataType).
        assert models["big"]["version"] == 2**63 - 1 and models["big"]["status"] == "serving"
        assert models["x"]["status"] == "rejected" and models["x"]["version"] is None

    # A fresh replica replays the same control log, starts, and serves.
    fresh: Service = await start_service(
        s.model_copy(update={"instance_id": "fresh", "group_id": s.group_id + "-fresh"})
    )
    async with http(fresh) as client:
        await until(lambda: _ready(client))
        models = {m["name"]: m for m in (await client.get("/models")).json()["models"]}
        assert models["big"]["version"] == 2**63 - 1
        answer = await client.post("/predict/wine", json=good_of(model_files))
        assert answer.status_code == 200 and answer.json()["model"] == {
            "name": "big",
            "version": 2**63 - 1,
        }


def good_of(files: ModelFiles) -> dict[str, float]:
    return dict(zip(WINE_FIELDS, map(float, files.features[0]), strict=True))


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/health/ready")).status_code == 200


async def test_poison_requests_are_4xx_and_bodies_are_bounded(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service(max_request_bytes=64 * 1024)
    await publish_forest(service.settings, model_files)
    good = good_of(model_files)
    async with http(service) as client:
        deep = orjson.dumps(good)[:-1] + b',"x":' + nested(300) + b"}"
        answer = await client.post("/predict/wine", content=deep)
        assert answer.status_code == 400 and "nested deeper" in answer.text
        big = b'{"pad": "' + b"x" * 200_000 + b'"}'
        assert (await client.post("/predict/wine", content=big)).status_code == 413

        async def chunked() -> Any:
            for _ in range(100):
                yield b" " * 4096

        answer = await client.post("/predict/wine", content=chunked())
        assert answer.status_code == 413
        answer = await client.post("/predict/wine", json=good)
        assert answer.status_code == 200
        assert (
            answer.json()["result"]["label"]
            == forest_labels(model_files, model_files.features[:1])[0]
        )
