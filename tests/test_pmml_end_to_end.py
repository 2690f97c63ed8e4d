"""A Spark-style PMML forest (trees whose leaves omit classes, averaged) published as a
protobuf descriptor and scored from protobuf WineRecords, through the contract only. With the
default engine every label and probability equals the answer worked out by hand; with pypmml,
which gets this model wrong, no wrong answer is published: each record is either right or a
dead letter saying why."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson
import pytest

from service.proto.model_descriptor_pb2 import ModelDescriptor as Proto
from service.protobuf import encode_wine_record
from service.server import Service
from service.tools.publishing import wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import header, produce, read_all, read_until
from tests.runtimes.pmml_documents import (
    Leaf,
    Split,
    Tree,
    averaged_probabilities,
    averaging_forest,
    categorical_target,
    classifier_output,
    document,
    rows_around,
    tree_model,
)

CLASSES = ("5", "6", "7")
FIELDS = ("alcohol", "sulphates", "pH")
FOREST = (
    Split("alcohol", 10.5, Leaf("5", {"5": 7, "6": 2}), Leaf("7", {"7": 5, "6": 3})),
    Split(
        "sulphates",
        4.0,
        Leaf("6", {"6": 6, "5": 1}),
        Split("pH", 5.0, Leaf("5", {"5": 4}), Leaf("7", {"7": 6, "5": 2, "6": 1})),
    ),
    Split("pH", 3.0, Leaf("7", {"7": 3}), Leaf("6", {"6": 5, "5": 2})),
)
# A single tree whose all-zero row (the warm-up's) lands in a leaf that names every class:
# pypmml loads it, and its NaN answers show only when scoring.
TREE = Split(
    "alcohol",
    10.5,
    Leaf("5", {"5": 7, "6": 2, "7": 1}),
    Split("pH", 3.0, Leaf("7", {"7": 3}), Leaf("6", {"6": 5, "5": 2})),
)
MODELS = {"forest": FOREST, "tree": (TREE,)}
PROTOBUF = [("content-type", b"application/x-protobuf")]
ROWS = 120


def model_pmml(trees: tuple[Tree, ...]) -> bytes:
    output = classifier_output(CLASSES, "integer")
    target = categorical_target(CLASSES, "integer")
    if len(trees) == 1:
        return document(FIELDS, target, tree_model(trees[0], FIELDS, "classification", output))
    return document(FIELDS, target, averaging_forest(trees, FIELDS, output))


def expected_answers(
    trees: tuple[Tree, ...],
) -> tuple[list[dict[str, float]], dict[str, dict[str, Any]]]:
    """Rows, and each one's answer by hand (every leaf's score is its majority class)."""
    rows = rows_around(FIELDS, trees, ROWS, seed=11)
    rows = [{f: row.get(f, 1.0) for f in WINE_FIELDS} | row for row in rows]
    answers = {}
    for i, row in enumerate(rows):
        p = averaged_probabilities(trees, row, CLASSES)
        answers[f"w{i}"] = {"label": CLASSES[int(np.argmax(p))], "probabilities": p.tolist()}
    return rows, answers


async def publish_and_stream(service: Service, trees: tuple[Tree, ...]) -> dict[str, Any]:
    """Publishes the model as a protobuf descriptor and, after its event, the rows as
    WineRecords; returns the event."""
    s = service.settings
    message = Proto(name="spark-rf", dataType="wine", modeltype=Proto.PMML, data=model_pmml(trees))
    await produce(
        s.bootstrap_servers,
        s.control_topic,
        [(b"spark-rf", message.SerializeToString())],
        headers=PROTOBUF,
    )
    event = await wait_for_event(s, "spark-rf", 0, timeout_s=60)
    assert event is not None
    rows, _ = expected_answers(trees)
    records = [(f"w{i}".encode(), encode_wine_record(r, "wine")) for i, r in enumerate(rows)]
    await produce(s.bootstrap_servers, s.data_topics[0], records, headers=PROTOBUF)
    return event


def assert_right(result: dict[str, Any], expected: dict[str, Any]) -> None:
    assert result["label"] == expected["label"]
    assert list(result["probabilities"]) == list(CLASSES)
    got = list(result["probabilities"].values())
    np.testing.assert_allclose(got, expected["probabilities"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("model", list(MODELS))
async def test_the_default_engine_answers_like_the_hand_computed_model(
    start_service: Any, model: str
) -> None:
    service: Service = await start_service()
    event = await publish_and_stream(service, MODELS[model])
    assert event["status"] == "loaded" and event["runtime"].startswith("jpmml-evaluator ")
    s = service.settings
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= ROWS)
    _, expected = expected_answers(MODELS[model])
    predictions = {orjson.loads(r.value)["id"]: orjson.loads(r.value) for r in out}
    assert set(predictions) == set(expected)
    for key, prediction in predictions.items():
        assert_right(prediction["result"], expected[key])


async def outcomes(
    service: Service, total: int, timeout_s: float = 60.0
) -> tuple[list[Any], list[Any]]:
    """The predictions and the dead letters, once there are ``total`` of them together."""
    s = service.settings
    deadline = time.monotonic() + timeout_s
    while True:
        published = await read_all(s.bootstrap_servers, s.output_topic, quiet_ms=200)
        dead = await read_all(s.bootstrap_servers, s.dlq_topic, quiet_ms=200)
        if len(published) + len(dead) >= total or time.monotonic() > deadline:
            return published, dead


@pytest.mark.parametrize(("model", "status"), [("forest", "failed"), ("tree", "loaded")])
async def test_pypmml_never_publishes_a_wrong_answer(
    start_service: Any, model: str, status: str
) -> None:
    """The forest's NaNs show at warm-up (a failed load naming the engine and the remedy), the
    tree's only on some rows (those rows are dead letters, the others right)."""
    service: Service = await start_service(pmml_engine="pypmml")
    event = await publish_and_stream(service, MODELS[model])
    _, expected = expected_answers(MODELS[model])
    assert event["status"] == status
    if status == "failed":
        assert "pypmml 1.5.8" in event["error"] and "MODELSERVE_PMML_ENGINE=jpmml" in event["error"]
    else:
        assert event["runtime"] == "pypmml 1.5.8"
    published, dead = await outcomes(service, ROWS)
    if status == "loaded":
        assert published and dead  # both paths taken
    for record in published:
        prediction = orjson.loads(record.value)
        assert_right(prediction["result"], expected[prediction["id"]])
    for record in dead:
        reason = header(record, "dlq.reason")
        assert reason in ("scoring-error", "no-model"), reason
        if reason == "scoring-error":
            error = header(record, "dlq.error") or ""
            assert error.startswith("pypmml 1.5.8 returned probabilities NaN"), error
            assert "MODELSERVE_PMML_ENGINE=jpmml" in error
    keys = {r.key.decode() for r in dead} | {orjson.loads(r.value)["id"] for r in published}
    assert keys == set(expected) and len(published) + len(dead) == ROWS
