"""The service end to end on the real broker, through its contract only: topics, headers,
HTTP."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import orjson

from service.http.views import model_info
from service.server import Service
from service.settings import Settings
from service.tools.publishing import build_descriptor, publish, retire, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import header, produce, produce_json, read_all, read_until
from tests.models import ModelFiles


async def publish_and_wait(
    settings: Settings, path: Path, name: str, data_type: str = "wine", **kw: Any
) -> dict[str, Any]:
    descriptor = build_descriptor(path, name, data_type, **kw)
    offset = await publish(settings, descriptor)
    event = await wait_for_event(settings, name, offset, timeout_s=60)
    assert event is not None, f"no event for {name}"
    return event


async def publish_forest(settings: Settings, files: ModelFiles, **kw: Any) -> dict[str, Any]:
    return await publish_and_wait(
        settings,
        files.forest_onnx,
        "wine-rf",
        inputs=list(WINE_FIELDS),
        labels=files.forest_classes,
        **kw,
    )


def wine_records(
    features: np.ndarray, prefix: str, start: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            f"{prefix}{start + i}",
            {"dataType": "wine", **dict(zip(WINE_FIELDS, map(float, row), strict=True))},
        )
        for i, row in enumerate(features)
    ]


def http(service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}", timeout=10)


async def test_onnx_predictions_match_onnxruntime_and_state_is_queryable(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service()
    s = service.settings
    event = await publish_and_wait(
        s,
        model_files.forest_onnx,
        "wine-rf",
        inputs=list(WINE_FIELDS),
        labels=model_files.forest_classes,
        metadata={"owner": "tests"},
    )
    assert (
        event["status"] == "loaded" and event["version"] == 1 and event["instance"] == s.instance_id
    )

    x = model_files.features[:400]
    await produce_json(s.bootstrap_servers, s.data_topics[0], wine_records(x, "k"))
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 400)

    session = ort.InferenceSession(model_files.forest_onnx.read_bytes())
    expected = {f"k{i}": str(v) for i, v in enumerate(session.run(None, {"X": x})[0])}
    got = {}
    for record in out:
        p = orjson.loads(record.value)
        assert record.key.decode() == p["id"]
        assert p["model"] == {"name": "wine-rf", "version": 1} and p["dataType"] == "wine"
        assert set(p["result"]["probabilities"]) == set(model_files.forest_classes)
        assert p["source"]["topic"] == s.data_topics[0]
        assert p["timestamps"]["scored"] >= p["timestamps"]["ingested"] > 0
        assert header(record, "model-name") == "wine-rf" and header(record, "model-version") == "1"
        src = p["source"]
        assert header(record, "source") == f"{src['topic']}/{src['partition']}/{src['offset']}"
        got[p["id"]] = p["result"]["label"]
    assert got == expected

    async with http(service) as client:
        state = (await client.get("/state/wine")).json()
        assert state["name"] == "wine-rf" and state["version"] == 1 and state["modelType"] == "ONNX"
        assert state["usage"] == 400 and state["duration"] > 0
        assert 0 < state["min"] <= state["avg"] <= state["max"]
        assert (await client.get("/state/beer")).status_code == 404
        stats = (await client.get("/stats")).json()
        assert stats["consumed"] == 400 and stats["scored"] == 400 and stats["dlq"] == 0
        assert stats["models"] == 1 and stats["batches"] >= 1 and stats["avgBatchSize"] >= 1
        models = (await client.get("/models")).json()["models"]
        assert [(m["name"], m["version"], m["status"]) for m in models] == [
            ("wine-rf", 1, "serving")
        ]
        assert models[0]["metadata"] == {"owner": "tests"} and len(models[0]["sha256"]) == 64
        metrics = (await client.get("/metrics")).text
        assert 'modelserve_records_scored_total{data_type="wine",model="wine-rf"} 400.0' in metrics
        assert "modelserve_batch_size_bucket" in metrics
        assert 'modelserve_scoring_seconds_count{model="wine-rf",version="1"}' in metrics
        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/models/nope")).status_code == 404


async def test_bad_records_go_to_the_dead_letter_topic_with_reasons(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    good = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
    missing = {k: v for k, v in good.items() if k != "alcohol"}
    items = [
        (b"undecodable", b"\xff{not json"),
        (b"missing", orjson.dumps({"dataType": "wine", **missing})),
        (b"no-type", orjson.dumps(good)),
        (b"no-model", orjson.dumps({"dataType": "beer", **good})),
        (b"ok", orjson.dumps({"dataType": "wine", **good})),
    ]
    await produce(s.bootstrap_servers, s.data_topics[0], items, headers=[("trace", b"t-1")])
    dlq = await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= 4)
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 1)

    by_key = {r.key: r for r in dlq}
    assert set(by_key) == {b"undecodable", b"missing", b"no-type", b"no-model"}
    reasons = {k: header(r, "dlq.reason") for k, r in by_key.items()}
    assert reasons == {
        b"undecodable": "decode-error",
        b"missing": "invalid-record",
        b"no-type": "invalid-record",
        b"no-model": "no-model",
    }
    sent = dict(items)
    for key, record in by_key.items():
        assert record.value == sent[key]  # the original bytes, unchanged
        assert header(record, "trace") == "t-1"  # and the original headers
        assert (header(record, "dlq.source") or "").startswith(f"{s.data_topics[0]}/")
        assert header(record, "dlq.error")
    assert "alcohol" in (header(by_key[b"missing"], "dlq.error") or "")
    assert header(by_key[b"missing"], "dlq.model") == "wine-rf:1"
    assert [r.key for r in out] == [b"ok"]
    async with http(service) as client:
        stats = (await client.get("/stats")).json()
        assert stats["dlq"] == 4 and stats["scored"] == 1 and stats["consumed"] == 5
        metrics = (await client.get("/metrics")).text
        assert 'modelserve_records_dead_lettered_total{reason="invalid-record"} 2.0' in metrics


async def test_new_version_takes_over_mid_stream_without_losing_a_record(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service(max_batch_size=50)
    s = service.settings
    await publish_forest(s, model_files)
    x = model_files.features
    sent = 0
    swapped = asyncio.Event()

    async def stream() -> None:
        # Records keep flowing before, during and after the swap: chunks go on until the new
        # version has been serving for a while.
        nonlocal sent
        after_swap = 0
        while after_swap < 5:
            chunk = [
                (f"r{sent + i}", r)
                for i, (_, r) in enumerate(wine_records(x[sent % 1500 :][:100], ""))
            ]
            await produce_json(s.bootstrap_servers, s.data_topics[0], chunk)
            sent += len(chunk)
            after_swap += swapped.is_set()

    producing = asyncio.create_task(stream())
    await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 500)
    event = await publish_and_wait(
        s, model_files.forest_zipmap_onnx, "wine-rf", inputs=list(WINE_FIELDS)
    )
    assert event["version"] == 2
    swapped.set()
    await producing
    out = await read_until(
        s.bootstrap_servers, s.output_topic, lambda r: len({rec.key for rec in r}) >= sent
    )
    keys = {r.key.decode() for r in out}
    assert keys == {f"r{i}" for i in range(sent)}  # lost = 0
    versions_by_partition: dict[int, list[int]] = defaultdict(list)
    for record in sorted(out, key=lambda r: (r.partition, r.offset)):
        p = orjson.loads(record.value)
        versions_by_partition[p["source"]["partition"]].append(p["model"]["version"])
    seen = {v for vs in versions_by_partition.values() for v in vs}
    assert seen == {1, 2}
    for versions in versions_by_partition.values():
        assert versions == sorted(versions)  # once v2 scores a partition, v1 never does again


async def test_corrupt_model_never_replaces_the_serving_one(
    start_service: Any, model_files: ModelFiles, tmp_path: Path
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(model_files.forest_onnx.read_bytes()[:5000])
    event = await publish_and_wait(s, corrupt, "wine-rf", inputs=list(WINE_FIELDS))
    assert event["status"] == "failed" and event["version"] == 2 and event["error"]
    bad_pmml = tmp_path / "bad.pmml"
    bad_pmml.write_text("<PMML version='4.4'><nonsense/></PMML>")
    event = await publish_and_wait(s, bad_pmml, "wine-rf")
    assert event["status"] == "failed"
    await produce(s.bootstrap_servers, s.control_topic, [(b"wine-rf", b'{"name": "wine-rf"}')])

    await produce_json(
        s.bootstrap_servers, s.data_topics[0], wine_records(model_files.features[:20], "c")
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 20)
    assert {orjson.loads(r.value)["model"]["version"] for r in out} == {1}
    async with http(service) as client:
        info = (await client.get("/models/wine-rf")).json()
        assert info["version"] == 1 and info["status"] == "serving"
        statuses = [(h["version"], h["status"]) for h in info["history"]]
        assert statuses[:3] == [(1, "serving"), (2, "failed"), (3, "failed")]
        assert statuses[3] == (None, "rejected")
        assert "dataType" in info["history"][3]["error"]


async def test_pmml_model_scores_records_by_normalised_field_names(
    start_service: Any, model_files: ModelFiles
) -> None:
    from pypmml import Model

    from service.runtimes.pmml_pypmml import start_hardened_jvm

    start_hardened_jvm()  # pypmml's JVM is one per process: keep it hardened for the service

    service: Service = await start_service()
    s = service.settings
    event = await publish_and_wait(s, model_files.forest_pmml, "wine-pmml")
    assert event["status"] == "loaded"
    x = model_files.features[:200].astype(np.float64)
    # Records spell the fields as people do ("Fixed Acidity"); the model says fixed_acidity.
    spaced = [f.replace("_", " ").title() for f in WINE_FIELDS]
    records = [
        (f"p{i}", {"dataType": "wine", **dict(zip(spaced, map(float, row), strict=True))})
        for i, row in enumerate(x)
    ]
    await produce_json(s.bootstrap_servers, s.data_topics[0], records)
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 200)

    direct = Model.fromString(model_files.forest_pmml.read_text())
    direct.setSupplementOutput(True)
    answer = orjson.loads(
        direct.predict(orjson.dumps({"columns": list(WINE_FIELDS), "data": x.tolist()}).decode())
    )
    at = answer["columns"].index("predicted_quality")
    expected = {f"p{i}": str(row[at]) for i, row in enumerate(answer["data"])}
    got = {orjson.loads(r.value)["id"]: orjson.loads(r.value)["result"]["label"] for r in out}
    assert got == expected


async def test_predict_over_http_and_retire(start_service: Any, model_files: ModelFiles) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_and_wait(s, model_files.regressor_onnx, "wine-lr", inputs=list(WINE_FIELDS))
    good = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
    direct = ort.InferenceSession(model_files.regressor_onnx.read_bytes()).run(
        None, {"X": model_files.features[:1]}
    )[0][0][0]
    async with http(service) as client:
        one = await client.post("/predict/wine", json=good)
        assert one.status_code == 200
        body = one.json()
        assert body["model"] == {"name": "wine-lr", "version": 1} and "source" not in body
        assert abs(body["result"]["value"] - float(direct)) < 1e-4
        many = (await client.post("/predict/wine", json=[good, {"alcohol": 1}, good])).json()
        assert [("result" in m, m.get("reason")) for m in many] == [
            (True, None),
            (False, "invalid-record"),
            (True, None),
        ]
        assert (await client.post("/predict/beer", json=good)).status_code == 404
        assert (await client.post("/predict/wine", json={"alcohol": 1})).status_code == 422
        assert (await client.post("/predict/wine", content=b"{oops")).status_code == 400

        offset = await retire(s, "wine-lr")
        event = await wait_for_event(s, "wine-lr", offset, timeout_s=30)
        assert event is not None and event["version"] == 1
        assert (await client.post("/predict/wine", json=good)).status_code == 404
        assert (await client.get("/models/wine-lr")).json()["status"] == "retired"


async def test_a_restarted_replica_rebuilds_the_registry_from_the_control_topic(
    start_service: Any, model_files: ModelFiles, bootstrap: str
) -> None:
    first: Service = await start_service()
    s = first.settings
    await publish_and_wait(s, model_files.forest_onnx, "a", inputs=list(WINE_FIELDS))
    await publish_and_wait(s, model_files.forest_onnx, "a", inputs=list(WINE_FIELDS))
    await publish_and_wait(s, model_files.forest_pmml, "b", data_type="other")
    await publish_and_wait(s, Path(model_files.forest_onnx), "a", version=1)  # stale: rejected
    await publish_and_wait(
        s, model_files.regressor_onnx, "c", data_type="gone", inputs=list(WINE_FIELDS)
    )
    await wait_for_event(s, "c", await retire(s, "c"), timeout_s=30)
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await publish_and_wait(
        s,
        model_files.regressor_onnx,
        "d",
        data_type="brief",
        inputs=list(WINE_FIELDS),
        expires_at=datetime.fromisoformat(soon),
    )
    for _ in range(100):  # the expiry timer fires by itself
        if (model_info(first.registry, "d") or {}).get("status") == "expired":
            break
        await asyncio.sleep(0.05)
    before = [
        model_info(first.registry, n, with_history=True) or {} for n in first.registry.names()
    ]
    assert [(i["name"], i["status"]) for i in before] == [
        ("a", "serving"),
        ("b", "serving"),
        ("c", "retired"),
        ("d", "expired"),
    ]
    await first.stop()

    second: Service = await start_service(s.model_copy(update={"instance_id": "second"}))
    await asyncio.wait_for(second.control.caught_up.wait(), 30)
    after = [
        model_info(second.registry, n, with_history=True) or {} for n in second.registry.names()
    ]

    def shape(infos: list[Any]) -> list[Any]:
        return [
            (
                i["name"],
                i["version"],
                i["status"],
                [(h["version"], h["status"]) for h in i["history"]],
            )
            for i in infos
        ]

    assert shape(after) == shape(before)
    assert shape(after)[0] == (
        "a",
        2,
        "serving",
        [(1, "superseded"), (2, "serving"), (1, "rejected")],
    )


async def test_protobuf_descriptor_and_wine_records_score_like_pypmml(
    start_service: Any, model_files: ModelFiles
) -> None:
    from pypmml import Model

    from service.runtimes.pmml_pypmml import start_hardened_jvm

    start_hardened_jvm()  # pypmml's JVM is one per process: keep it hardened for the service

    from service.proto.model_descriptor_pb2 import ModelDescriptor as Proto
    from service.protobuf import encode_wine_record

    service: Service = await start_service()
    s = service.settings
    pmml = model_files.spaced_pmml.read_bytes()
    message = Proto(
        name="lightbend-wine",
        description="JPMML-style fields",
        dataType="wine",
        modeltype=Proto.PMML,
        data=pmml,
    )
    protobuf = [("content-type", b"application/x-protobuf")]
    await produce(
        s.bootstrap_servers,
        s.control_topic,
        [(b"lightbend-wine", message.SerializeToString())],
        headers=protobuf,
    )
    event = await wait_for_event(s, "lightbend-wine", 0, timeout_s=60)
    assert event is not None and event["status"] == "loaded"

    x = model_files.features[:150].astype(np.float64)
    rows = [dict(zip(WINE_FIELDS, map(float, row), strict=True)) for row in x]
    await produce(
        s.bootstrap_servers,
        s.data_topics[0],
        [(f"w{i}".encode(), encode_wine_record(r, "wine")) for i, r in enumerate(rows)],
        headers=protobuf,
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 150)

    direct = Model.fromString(pmml.decode())
    direct.setSupplementOutput(True)
    names = list(direct.inputNames)
    assert names[0] == "fixed acidity"
    answer = orjson.loads(
        direct.predict(orjson.dumps({"columns": names, "data": x.tolist()}).decode())
    )
    at = answer["columns"].index("predicted_quality")
    expected = {f"w{i}": str(row[at]) for i, row in enumerate(answer["data"])}
    got = {orjson.loads(r.value)["id"]: orjson.loads(r.value)["result"]["label"] for r in out}
    assert got == expected


async def test_wait_policy_holds_a_partition_until_its_model_arrives(
    start_service: Any, model_files: ModelFiles
) -> None:
    from aiokafka import AIOKafkaProducer

    service: Service = await start_service(no_model_policy="wait")
    s = service.settings
    await publish_forest(s, model_files)
    rows = wine_records(model_files.features[:40], "x")
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        # Partition 0: a beer record (no model yet) between wine records; partition 1: wine only.
        p0 = [
            (f"a{i}", {**r, "dataType": "beer" if i == 5 else "wine"})
            for i, (_, r) in enumerate(rows[:20])
        ]
        p1 = [(f"b{i}", r) for i, (_, r) in enumerate(rows[20:])]
        for partition, items in ((0, p0), (1, p1)):
            for key, value in items:
                await producer.send_and_wait(
                    s.data_topics[0], orjson.dumps(value), key=key.encode(), partition=partition
                )
    finally:
        await producer.stop()
    # Everything but the held part of partition 0 is scored: a0..a4 and all of partition 1.
    first = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 25)
    assert {r.key.decode() for r in first} == {f"a{i}" for i in range(5)} | {
        f"b{i}" for i in range(20)
    }
    waiting = await read_all(s.bootstrap_servers, s.output_topic)
    assert len(waiting) == 25  # a5.. stays held while beer has no model

    await publish_and_wait(
        s, model_files.forest_onnx, "beer-rf", data_type="beer", inputs=list(WINE_FIELDS)
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 40)
    assert sorted(r.key.decode() for r in out) == sorted([k for k, _ in p0] + [k for k, _ in p1])
    beer = next(orjson.loads(r.value) for r in out if r.key == b"a5")
    assert beer["model"]["name"] == "beer-rf"
    dlq = await read_all(s.bootstrap_servers, s.dlq_topic)
    assert dlq == []
