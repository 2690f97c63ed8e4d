"""The Open Inference Protocol on Kafka, end to end on the real broker and as MLServer speaks
it: InferenceRequest JSON on the OIP input topic (the model in header ``mlserver-model``, the
version in ``mlserver-version``), answered on the OIP output topic keyed by the request id,
with MLServer's CloudEvents headers, equal to onnxruntime's answer; Seldon Core v2's protobuf
ModelInferRequest answered in protobuf; many requests in fewer model calls; the requests that
cannot be answered dead letters with their reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import orjson

from service.proto import open_inference_grpc_pb2 as pb
from service.server import Service
from tests.kafka_helpers import header, produce_each, read_until
from tests.models import ModelFiles
from tests.service_helpers import get_json, publish_forest

REQUESTS = 200
MODEL = [("mlserver-model", b"wine-rf")]


def infer_request(rows: np.ndarray, **fields: Any) -> bytes:
    tensor = {
        "name": "X",
        "datatype": "FP32",
        "shape": list(rows.shape),
        "data": rows.reshape(-1).tolist(),
    }
    return orjson.dumps({"inputs": [tensor], **fields})


async def test_mlserver_requests_are_answered_on_the_output_topic_and_failures_dead_lettered(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    x = model_files.features[: REQUESTS + 5].astype(np.float32)
    session = ort.InferenceSession(model_files.forest_onnx.read_bytes())
    labels, probabilities = session.run(None, {"X": x})
    calls_before = (await get_json(service, "/stats"))["batches"]

    Item = tuple[bytes | None, bytes, list[tuple[str, bytes]]]
    one_row_each: list[Item] = [
        (f"r{i}".encode(), infer_request(x[i : i + 1]), MODEL) for i in range(REQUESTS)
    ]
    # No key: the body's id is the request id. The version loaded is 1.
    five_rows = infer_request(x[REQUESTS:], id="five-rows")
    versioned: list[Item] = [(None, five_rows, [*MODEL, ("mlserver-version", b"1")])]
    # Seldon Core v2's form: protobuf, the model named in the message, no key.
    message = pb.ModelInferRequest(model_name="wine-rf", model_version="1", id="proto")
    message.inputs.add(name="X", datatype="FP32", shape=[2, 11])
    message.raw_input_contents.append(x[:2].astype("<f4").tobytes())
    protobuf: list[Item] = [
        (None, message.SerializeToString(), [("content-type", b"application/x-protobuf")])
    ]
    bad_tensor = {"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 3], "data": [1, 2]}]}
    refused: list[Item] = [
        (b"v2", infer_request(x[:1]), [*MODEL, ("mlserver-version", b"2")]),
        (b"unknown", infer_request(x[:1]), [("mlserver-model", b"nobody")]),
        (b"not-json", b"\xff{not json", MODEL),
        (b"no-header", infer_request(x[:1]), []),
        (b"bad-tensor", orjson.dumps(bad_tensor), MODEL),
    ]
    reasons = {
        b"v2": "no-model",
        b"unknown": "no-model",
        b"not-json": "decode-error",
        b"no-header": "invalid-record",
        b"bad-tensor": "invalid-record",
    }
    await produce_each(
        s.bootstrap_servers, s.oip_input_topic, one_row_each + versioned + protobuf + refused
    )

    out = await read_until(
        s.bootstrap_servers, s.oip_output_topic, lambda r: len(r) >= REQUESTS + 2
    )
    dead = await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= len(refused))

    answers = {record.key.decode(): record for record in out}
    assert set(answers) == {f"r{i}" for i in range(REQUESTS)} | {"five-rows", "proto"}
    in_protobuf = pb.ModelInferResponse.FromString(answers.pop("proto").value)
    assert (in_protobuf.model_name, in_protobuf.model_version, in_protobuf.id) == (
        "wine-rf",
        "1",
        "proto",
    )
    (label,) = [k for k, o in enumerate(in_protobuf.outputs) if o.name == "label"]
    raw_labels = in_protobuf.raw_output_contents[label]  # BYTES: 4-byte length, then the bytes
    assert raw_labels == b"".join(
        len(str(v)).to_bytes(4, "little") + str(v).encode() for v in labels[:2]
    )
    for i in [*range(REQUESTS), REQUESTS]:
        key = f"r{i}" if i < REQUESTS else "five-rows"
        answer = orjson.loads(answers[key].value)
        assert answer["model_name"] == "wine-rf" and answer["model_version"] == "1"
        assert answer["id"] == key
        outputs = {o["name"]: o for o in answer["outputs"]}
        rows = slice(i, i + 1) if i < REQUESTS else slice(REQUESTS, REQUESTS + 5)
        assert outputs["label"]["data"] == [str(v) for v in labels[rows]]
        assert outputs["classes"]["data"] == model_files.forest_classes
        got = np.array(outputs["probabilities"]["data"]).reshape(outputs["probabilities"]["shape"])
        np.testing.assert_allclose(got, probabilities[rows], rtol=1e-6)
    assert [(k, bytes(v).decode()) for k, v in answers["r7"].headers] == [
        ("Ce-Specversion", "0.3"),
        ("Ce-Source", "io.seldon.serving.deployment.modelserve"),
        ("Ce-Type", "io.seldon.serving.inference.response"),
        ("Ce-Modelid", "wine-rf"),
        ("Ce-Inferenceservicename", "modelserve"),
        ("Ce-Endpoint", "wine-rf"),
        ("Ce-Id", "r7"),
        ("Ce-Requestid", "r7"),
    ]

    # A dead letter is the request as it came (key, value, headers) with the reason added.
    assert {r.key: header(r, "dlq.reason") for r in dead} == reasons
    for record, (sent_key, sent_value, sent_headers) in zip(
        sorted(dead, key=lambda r: r.key), sorted(refused, key=lambda r: r[0] or b""), strict=True
    ):
        assert (record.key, record.value) == (sent_key, sent_value)
        assert [(k, bytes(v)) for k, v in record.headers][: len(sent_headers)] == sent_headers
        assert (header(record, "dlq.source") or "").startswith(f"{s.oip_input_topic}/")
    errors = {r.key: header(r, "dlq.error") for r in dead}
    assert errors[b"v2"] == "model 'wine-rf' has no version '2' loaded (version 1 is)"
    assert errors[b"no-header"] == "no mlserver-model header names the model"

    stats = await get_json(service, "/stats")
    calls = stats["batches"] - calls_before
    print(f"{REQUESTS + 2} requests answered in {calls} model calls")
    assert calls < (REQUESTS + 2) / 4  # a fetched batch's requests are scored together
    # Every request read is counted as answered (scored) or dead-lettered, nothing else.
    assert stats["consumed"] == stats["scored"] + stats["dlq"] > 0
