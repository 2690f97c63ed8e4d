"""Lightbend's own client, exactly as it writes (``DataProvider.scala``:
``sender.writeValue(topic, bytes)``): protobuf ModelDescriptors with no key and no headers, a
SavedModel named "tensorflow saved model" by a relative location (``data/saved/1/``, under
the trusted prefix), a frozen graph named "data/optimized_WineQuality" by value with no
modeltype on the wire (TENSORFLOW is proto3's default); then WineRecords with no key and no
headers, each answered by the model that serves at the time with TensorFlow's own argmax and
its raw per-class scores (a sigmoid per class: not probabilities)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from service.protobuf import encode_wine_record
from service.server import Service
from service.tools.cli import main
from service.wine import WINE_FIELDS, wine_arrays
from tests.kafka_helpers import produce_json, read_until
from tests.runtimes.tensorflow_models import (
    TensorFlowModels,
    graph_answer,
    saved_answer,
    tar_of,
    tensorflow_or_skip,
)
from tests.service_helpers import http
from tests.test_protobuf import lightbend_descriptor_class
from tests.tools.test_cli import use_settings

ROWS = 150


async def write_values(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """As Lightbend's MessageSender writes: a value, no key, no headers (to one partition,
    so that each record's offset says which row it was)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


async def loaded(service: Service, name: str, count: int) -> None:
    s = service.settings

    def done(events: list[Any]) -> bool:
        mine = [orjson.loads(e.value) for e in events]
        return len([e for e in mine if e["name"] == name and e["status"] == "loaded"]) >= count

    await read_until(s.bootstrap_servers, s.events_topic, done)


def wine_values(features: np.ndarray[Any, Any]) -> list[bytes]:
    return [
        encode_wine_record(dict(zip(WINE_FIELDS, row.tolist(), strict=True)), "wine", ts=i)
        for i, row in enumerate(features)
    ]


async def test_lightbends_client_as_it_writes(
    start_service: Any, tf_models: TensorFlowModels, tmp_path: Path
) -> None:
    tf = tensorflow_or_skip()
    store = tmp_path / "lightbend"
    shutil.copytree(tf_models.tf1_saved["sigmoid"] / "1", store / "data" / "saved" / "1")
    service: Service = await start_service(
        trusted_locations=[f"file://{store}/"], control_compaction=False
    )
    s = service.settings
    lightbend = lightbend_descriptor_class()
    features, _ = wine_arrays()
    first, second = features[:ROWS], features[ROWS : 2 * ROWS]

    saved = lightbend(
        name="tensorflow saved model",
        description="generated from TensorFlow saved bundle",
        modeltype=1,  # TENSORFLOWSAVED
        dataType="wine",
        location="data/saved/1/",
    )
    await write_values(s.bootstrap_servers, s.control_topic, [saved.SerializeToString()])
    await loaded(service, "tensorflow saved model", 1)
    await write_values(s.bootstrap_servers, s.data_topics[0], wine_values(first))

    graph, output = tf_models.graphs["sigmoid"]
    frozen = lightbend(
        name="data/optimized_WineQuality",
        description="generated from TensorFlow",
        dataType="wine",
        data=graph,
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= ROWS)
    await write_values(s.bootstrap_servers, s.control_topic, [frozen.SerializeToString()])
    await loaded(service, "data/optimized_WineQuality", 1)
    await write_values(s.bootstrap_servers, s.data_topics[0], wine_values(second))
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 2 * ROWS)

    expected = {
        "tensorflow saved model": saved_answer(
            tf, store / "data" / "saved" / "1", "predict", inputs=first
        )["outputs"],
        "data/optimized_WineQuality": graph_answer(tf, graph, output, second),
    }
    seen = {name: 0 for name in expected}
    for record in out:
        prediction = orjson.loads(record.value)
        offset = int(prediction["id"].rsplit("/", 1)[1])  # no key: topic/partition/offset
        name = prediction["model"]["name"]
        scores = expected[name]
        row = offset if name == "tensorflow saved model" else offset - ROWS
        result = prediction["result"]
        assert result["label"] == str(int(np.argmax(scores[row]))), (name, row)
        np.testing.assert_allclose(result["scores"], scores[row], rtol=0, atol=1e-6)
        assert "probabilities" not in result
        seen[name] += 1
    assert seen == {"tensorflow saved model": ROWS, "data/optimized_WineQuality": ROWS}
    # Not a distribution: these are scores, and they are published as such.
    sums = np.asarray(expected["tensorflow saved model"]).sum(axis=1)
    assert sums.min() < 0.99 or sums.max() > 1.01

    async with http(service) as client:
        for name, model_type in (
            ("data/optimized_WineQuality", "TENSORFLOW"),
            ("tensorflow saved model", "TENSORFLOWSAVED"),
        ):
            answer = await client.get(f"/models/{quote(name, safe='')}")
            assert answer.status_code == 200, answer.text
            assert answer.json()["name"] == name and answer.json()["modelType"] == model_type
        meta = await client.get("/v2/models/data%2Foptimized_WineQuality")
        assert meta.status_code == 200 and meta.json()["platform"] == "tensorflow_graphdef"
        outputs = {o["name"]: o for o in meta.json()["outputs"]}
        assert outputs["scores"]["shape"] == [-1, 9]


async def test_a_saved_model_archive_by_value_through_modelserve_publish(
    start_service: Any,
    tf_models: TensorFlowModels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SavedModel as a .tar.gz by value, its type told from what it holds, scoring JSON
    records that name the WineRecord's fields."""
    tf = tensorflow_or_skip()
    service: Service = await start_service()
    s = service.settings
    use_settings(monkeypatch, s)
    folder = tf_models.tf1_saved["softmax"]
    archive = tmp_path / "wine.tar.gz"
    archive.write_bytes(tar_of(folder / "1", arcname="1"))
    args = ["publish", str(archive), "--name", "wine-saved", "--data-type", "wine", "--wait"]
    assert await asyncio.to_thread(main, args) == 0
    features, _ = wine_arrays()
    rows = features[:ROWS]
    await produce_json(
        s.bootstrap_servers,
        s.data_topics[0],
        [
            (f"w{i}", {"dataType": "wine", **dict(zip(WINE_FIELDS, row.tolist(), strict=True))})
            for i, row in enumerate(rows)
        ],
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= ROWS)
    expected = saved_answer(tf, folder / "1", "predict", inputs=rows)["outputs"]
    for record in out:
        prediction = orjson.loads(record.value)
        i = int(prediction["id"][1:])
        result = prediction["result"]
        # A softmax: probabilities, over the classes "0".."8".
        assert result["label"] == str(int(np.argmax(expected[i])))
        probabilities = [result["probabilities"][str(c)] for c in range(expected.shape[1])]
        np.testing.assert_allclose(probabilities, expected[i], rtol=0, atol=1e-6)
