"""MLServer's Kafka server, the peer whose wire format modelserve's Kafka face matches:
what it writes for a request (key, value, headers), which id it answers under, what it drops
without a word on its output topic, and what it never reads."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest

from tests.browser import output_folder
from tests.kafka_helpers import produce, read_all, read_until
from tests.peers import MODEL_HEADER, PROBE_KEY_PREFIX, KafkaTopics, MLServerPeer, WineModel

pytestmark = pytest.mark.kafka

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def topics(peer: MLServerPeer) -> KafkaTopics:
    assert peer.kafka is not None
    return peer.kafka


def request_body(model: WineModel, rows: int = 1, **fields: Any) -> bytes:
    data = [value for row in model.features[:rows] for value in row]
    tensor = {"name": "input-0", "datatype": "FP64", "shape": [rows, 11], "data": data}
    return orjson.dumps({**fields, "inputs": [tensor]})


def answers(records: list[Any]) -> list[Any]:
    """The records that answer the tests' requests, not the launcher's probes."""
    return [r for r in records if not (r.key or b"").startswith(PROBE_KEY_PREFIX.encode())]


def cloud_event_headers(request_id: str) -> list[tuple[str, str]]:
    """The headers of every answer, in this order, with these capitals."""
    return [
        ("Ce-Specversion", "0.3"),
        ("Ce-Source", "io.seldon.serving.deployment.mlserver"),
        ("Ce-Type", "io.seldon.serving.inference.response"),
        ("Ce-Modelid", "wine"),
        ("Ce-Inferenceservicename", "mlserver"),
        ("Ce-Endpoint", "wine"),
        ("Ce-Id", request_id),
        ("Ce-Requestid", request_id),
    ]


async def test_wire_format(
    mlserver_kafka: MLServerPeer, wine_sklearn: WineModel, request: pytest.FixtureRequest
) -> None:
    kafka = topics(mlserver_kafka)
    await produce(
        kafka.bootstrap,
        kafka.input,
        [(b"req-1", request_body(wine_sklearn, rows=3))],
        headers=[(MODEL_HEADER, b"wine")],
    )
    records = await read_until(
        kafka.bootstrap, kafka.output, lambda rs: any(r.key == b"req-1" for r in rs)
    )
    answer = next(r for r in records if r.key == b"req-1")
    headers = [(k, bytes(v).decode()) for k, v in answer.headers]
    seen = {"key": answer.key.decode(), "value": answer.value.decode(), "headers": headers}
    (output_folder(request) / "mlserver-kafka-answer.json").write_text(json.dumps(seen, indent=2))

    # Compact JSON, in this field order: the InferenceResponse as MLServer's REST gives it.
    assert answer.value == orjson.dumps(
        {
            "model_name": "wine",
            "model_version": "1",
            "id": "req-1",
            "parameters": {},
            "outputs": [
                {
                    "name": "predict",
                    "shape": [3, 1],
                    "datatype": "INT64",
                    "parameters": {"content_type": "np"},
                    "data": wine_sklearn.predict[:3],
                }
            ],
        }
    )
    assert headers == cloud_event_headers("req-1")


async def test_answer_key_is_the_request_id(
    mlserver_kafka: MLServerPeer, wine_sklearn: WineModel
) -> None:
    """The key wins over the body's id; without a key (or with an empty one) the body's id is
    the key; without either, a fresh uuid4. Request headers other than its own are not
    echoed."""
    kafka = topics(mlserver_kafka)
    wine = [(MODEL_HEADER, b"wine")]
    await produce(
        kafka.bootstrap,
        kafka.input,
        [(b"key-2", request_body(wine_sklearn, id="body-2"))],
        headers=[*wine, ("x-trace", b"abc"), ("mlserver-version", b"1")],
    )
    await produce(
        kafka.bootstrap, kafka.input, [(None, request_body(wine_sklearn, id="body-3"))], wine
    )
    await produce(
        kafka.bootstrap, kafka.input, [(b"", request_body(wine_sklearn, id="body-4"))], wine
    )
    await produce(kafka.bootstrap, kafka.input, [(None, request_body(wine_sklearn))], wine)
    named = {"key-2", "body-3", "body-4"}

    def mine(records: list[Any]) -> dict[str, Any]:
        keyed = {r.key.decode(): r for r in answers(records)}
        return {k: r for k, r in keyed.items() if k in named or UUID.match(k)}

    by_key = mine(await read_until(kafka.bootstrap, kafka.output, lambda rs: len(mine(rs)) == 4))
    assert named <= set(by_key)  # and so one key, of the request without key or id, a uuid4
    for key, record in by_key.items():
        assert orjson.loads(record.value)["id"] == key
        assert [(k, bytes(v).decode()) for k, v in record.headers] == cloud_event_headers(key)


async def test_what_it_drops(mlserver_kafka: MLServerPeer, wine_sklearn: WineModel) -> None:
    """A request it cannot answer gets no record at all: only a line (and a traceback) in its
    log, ``ERROR <status> - <message>`` on logger mlserver.kafka."""
    kafka = topics(mlserver_kafka)
    body = request_body(wine_sklearn)
    dropped = {
        b"drop-unknown-model": (
            body,
            [(MODEL_HEADER, b"nope")],
            "ERROR 404 - Model nope not found",
        ),
        b"drop-unknown-version": (
            body,
            [(MODEL_HEADER, b"wine"), ("mlserver-version", b"2")],
            "ERROR 404 - Model wine with version 2 not found",
        ),
        b"drop-no-model-header": (
            body,
            [],
            "ERROR 422 - Invalid Kafka message. Expected 'mlserver-model' header not found in"
            " message.",
        ),
        # The header's one documented value, refused: MLServer 1.7.1 compares the string with
        # an Enum member, so any mlserver-method header at all is invalid.
        b"drop-method-infer": (
            body,
            [(MODEL_HEADER, b"wine"), ("mlserver-method", b"infer")],
            "ERROR 400 - Invalid request method: infer",
        ),
        b"drop-not-json": (
            b"not json",
            [(MODEL_HEADER, b"wine")],
            "ERROR 500 - invalid literal, expected 'null': line 1 column 1 (char 0)",
        ),
        b"drop-wrong-width": (
            orjson.dumps(
                {
                    "inputs": [
                        {"name": "x", "datatype": "FP64", "shape": [1, 10], "data": [1.0] * 10}
                    ]
                }
            ),
            [(MODEL_HEADER, b"wine")],
            "ERROR 500 - X has 10 features, but RandomForestClassifier is expecting 11 features",
        ),
    }
    for key, (value, headers, _) in dropped.items():
        await produce(kafka.bootstrap, kafka.input, [(key, value)], headers=headers)
    await produce(kafka.bootstrap, kafka.input, [(b"after-drops", body)], [(MODEL_HEADER, b"wine")])

    await mlserver_kafka.wait_for_log(*(line for _, _, line in dropped.values()))
    await read_until(
        kafka.bootstrap, kafka.output, lambda rs: any(r.key == b"after-drops" for r in rs)
    )
    written = {r.key for r in await read_all(kafka.bootstrap, kafka.output)}
    assert not written & set(dropped)


async def test_requests_sent_while_down_are_never_read(
    mlserver_kafka: MLServerPeer, wine_sklearn: WineModel
) -> None:
    """Its consumer has no group, so no committed offset: it starts at the end of the topic,
    and what came while it was down is skipped for good."""
    kafka = topics(mlserver_kafka)
    wine = [(MODEL_HEADER, b"wine")]
    mlserver_kafka.kill()
    await produce(kafka.bootstrap, kafka.input, [(b"while-down", request_body(wine_sklearn))], wine)
    await mlserver_kafka.restart()
    await produce(
        kafka.bootstrap, kafka.input, [(b"after-restart", request_body(wine_sklearn))], wine
    )
    await read_until(
        kafka.bootstrap, kafka.output, lambda rs: any(r.key == b"after-restart" for r in rs)
    )
    assert b"while-down" not in {r.key for r in await read_all(kafka.bootstrap, kafka.output)}
