"""The service end to end on the real broker, through its contract only: topics, headers,
HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import orjson

from service.server import Service
from service.tools.publishing import retire, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import header, produce, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import http, publish_and_wait, publish_forest, wine_records


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
