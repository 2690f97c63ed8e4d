"""The Open Inference Protocol on Kafka through librdkafka (confluent-kafka, in the
``oip-clients`` peer environment), a client the project did not write: 2,000 one-row
MLServer-format requests (InferenceRequest JSON, the model in header ``mlserver-model``, the
request id as the key) sent by its producer and the answers read back by its consumer, from
modelserve and, with the same client and the same checks, from MLServer itself."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import pytest

from service.server import Service
from tests.models import ModelFiles
from tests.peers import MODEL_HEADER, MLServerPeer, WineModel
from tests.peers.rdkafka import Headers, RdRecord, Read, rdkafka
from tests.service_helpers import get_json, publish_forest

pytestmark = pytest.mark.kafka

REQUESTS = 2000
# librdkafka's compression.type values: every codec Kafka has.
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")

Item = tuple[bytes | None, bytes | None, Headers]


def infer_request(row: np.ndarray, datatype: str) -> bytes:
    tensor = {"name": "X", "datatype": datatype, "shape": [1, len(row)], "data": row.tolist()}
    return orjson.dumps({"inputs": [tensor]})


def cloud_event_headers(server: str, model: str, request_id: str) -> list[tuple[str, str]]:
    """MLServer's headers of an answer, in its order, with its capitals."""
    return [
        ("Ce-Specversion", "0.3"),
        ("Ce-Source", f"io.seldon.serving.deployment.{server}"),
        ("Ce-Type", "io.seldon.serving.inference.response"),
        ("Ce-Modelid", model),
        ("Ce-Inferenceservicename", server),
        ("Ce-Endpoint", model),
        ("Ce-Id", request_id),
        ("Ce-Requestid", request_id),
    ]


def answered_once(
    records: list[RdRecord], keys: list[str], server: str, model: str
) -> dict[str, dict[str, Any]]:
    """Each request answered exactly once, keyed by its id, with the CloudEvents headers:
    the answers' bodies by request id."""
    counts = collections.Counter((r.key or b"").decode() for r in records)
    assert {k: n for k, n in counts.items() if n > 1} == {}
    assert set(counts) == set(keys)
    bodies = {}
    for record in records:
        key = (record.key or b"").decode()
        assert record.header_text() == cloud_event_headers(server, model, key)
        body = orjson.loads(record.value or b"")
        assert (body["id"], body["model_name"]) == (key, model)
        bodies[key] = {o["name"]: o for o in body["outputs"]}
    return bodies


async def test_librdkafka_requests_are_answered_once_each_and_unknown_models_dead_lettered(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    features = model_files.features
    x = features[np.arange(REQUESTS) % len(features)].astype(np.float32)
    labels, probabilities = ort.InferenceSession(model_files.forest_onnx.read_bytes()).run(
        None, {"X": x}
    )
    keys = [f"rdk-{i}" for i in range(REQUESTS)]
    model = [(MODEL_HEADER, b"wine-rf")]
    sent: list[Item] = [
        # FP64, as MLServer's are below: the service converts to the model's FP32.
        (key.encode(), infer_request(x[i], "FP64"), model)
        for i, key in enumerate(keys)
    ]
    unknown: Item = (b"rdk-unknown", infer_request(x[0], "FP64"), [(MODEL_HEADER, b"nobody")])

    result = await rdkafka(
        s.bootstrap_servers,
        s.oip_input_topic,
        [*sent, unknown],
        reads=[
            # Read on after the last answer: an answer written twice would show.
            Read(s.oip_output_topic, REQUESTS, timeout_s=90.0, linger_s=2.0),
            Read(s.dlq_topic, 1, timeout_s=30.0, linger_s=0.5),
        ],
    )
    print(
        f"librdkafka {result.librdkafka}: {REQUESTS} requests answered by modelserve;"
        f" {result.seconds} ({result.wall_s:.1f} s with the client's start)"
    )
    assert (result.produced, result.errors) == (REQUESTS + 1, [])

    bodies = answered_once(result.consumed[s.oip_output_topic], keys, "modelserve", "wine-rf")
    for i, key in enumerate(keys):
        outputs = bodies[key]
        assert outputs["label"]["data"] == [str(labels[i])]
        assert outputs["classes"]["data"] == model_files.forest_classes
        got = np.array(outputs["probabilities"]["data"]).reshape(outputs["probabilities"]["shape"])
        np.testing.assert_allclose(got, probabilities[i : i + 1], rtol=1e-6)

    # The unknown model's request: a dead letter, as it came, with the reason.
    (dead,) = result.consumed[s.dlq_topic]
    assert (dead.key, dead.value) == (unknown[0], unknown[1])
    assert dead.headers[:1] == [(MODEL_HEADER, b"nobody")]
    assert dead.header("dlq.reason") == "no-model"
    assert (dead.header("dlq.source") or "").startswith(f"{s.oip_input_topic}/")

    stats = await get_json(service, "/stats")
    assert stats["consumed"] == stats["scored"] + stats["dlq"] == REQUESTS + 1


async def test_librdkafka_requests_compressed_with_each_codec_are_answered(
    start_service: Any, model_files: ModelFiles
) -> None:
    """librdkafka compresses a batch as ``compression.type`` says; before the service had
    aiokafka's snappy, lz4 and zstd codecs (cramjam), one such batch failed every fetch of
    the data loop, which restarted and failed again and answered nothing more."""
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    each = 100
    x = model_files.features[:each].astype(np.float32)
    labels = ort.InferenceSession(model_files.forest_onnx.read_bytes()).run(None, {"X": x})[0]
    model = [(MODEL_HEADER, b"wine-rf")]
    keys = []
    for compression in CODECS:
        sent: list[Item] = [
            (f"{compression}-{i}".encode(), infer_request(x[i], "FP32"), model) for i in range(each)
        ]
        keys += [(key or b"").decode() for key, _, _ in sent]
        result = await rdkafka(
            s.bootstrap_servers, s.oip_input_topic, sent, config={"compression.type": compression}
        )
        assert (result.produced, result.errors) == (each, [])

    read = Read(s.oip_output_topic, len(keys), timeout_s=60.0, linger_s=1.0)
    result = await rdkafka(s.bootstrap_servers, reads=[read])
    bodies = answered_once(result.consumed[s.oip_output_topic], keys, "modelserve", "wine-rf")
    for key, outputs in bodies.items():
        assert outputs["label"]["data"] == [str(labels[int(key.rsplit("-", 1)[1])])]


async def test_the_same_check_holds_for_mlserver(
    mlserver_kafka: MLServerPeer, wine_sklearn: WineModel
) -> None:
    """The check is fair: MLServer, whose format it is, passes it too (but for the unknown
    model, whose request MLServer drops with a line in its log)."""
    kafka = mlserver_kafka.kafka
    assert kafka is not None
    features = np.array(wine_sklearn.features)
    rows = np.arange(REQUESTS) % len(features)
    keys = [f"rdk-{i}" for i in range(REQUESTS)]
    model = [(MODEL_HEADER, b"wine")]
    sent: list[Item] = [
        (key.encode(), infer_request(features[row], "FP64"), model)
        for key, row in zip(keys, rows, strict=True)
    ]
    unknown: Item = (
        b"rdk-unknown",
        infer_request(features[0], "FP64"),
        [(MODEL_HEADER, b"nobody")],
    )

    result = await rdkafka(
        kafka.bootstrap,
        kafka.input,
        [*sent, unknown],
        # Not MLServer's start-up probes, which answer on the same topic.
        reads=[Read(kafka.output, REQUESTS, timeout_s=90.0, linger_s=2.0, key_prefix=b"rdk-")],
    )
    print(
        f"librdkafka {result.librdkafka}: {REQUESTS} requests answered by MLServer;"
        f" {result.seconds} ({result.wall_s:.1f} s with the client's start)"
    )
    assert (result.produced, result.errors) == (REQUESTS + 1, [])

    bodies = answered_once(result.consumed[kafka.output], keys, "mlserver", "wine")
    for key, row in zip(keys, rows, strict=True):
        assert bodies[key]["predict"]["data"] == [wine_sklearn.predict[row]]
    await mlserver_kafka.wait_for_log("ERROR 404 - Model nobody not found")
