"""Records compressed with each of Kafka's codecs (gzip, snappy, lz4, zstd), as any producer
may send them (librdkafka's ``compression.type``, aiokafka's ``compression_type``): data
records and Open Inference Protocol requests alike are read and answered. Before cramjam was
a dependency (aiokafka's snappy, lz4 and zstd), a batch compressed with one of those three
failed every fetch of the data loop, which restarted and failed again, and served nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
from aiokafka import AIOKafkaProducer, codec

from service.server import Service
from tests.kafka_helpers import read_until
from tests.models import ModelFiles
from tests.service_helpers import publish_forest, wine_records

CODECS = ("gzip", "snappy", "lz4", "zstd")
RECORDS = 20  # per codec, on each topic


def test_every_kafka_codec_can_be_read() -> None:
    assert (codec.has_gzip(), codec.has_snappy(), codec.has_lz4(), codec.has_zstd()) == (
        True,
        True,
        True,
        True,
    )


async def test_compressed_records_and_requests_are_answered(
    start_service: Any, model_files: ModelFiles
) -> None:
    service: Service = await start_service()
    s = service.settings
    await publish_forest(s, model_files)
    rows = model_files.features[:RECORDS].astype(np.float32)
    labels = [
        str(v)
        for v in ort.InferenceSession(model_files.forest_onnx.read_bytes()).run(None, {"X": rows})[
            0
        ]
    ]
    for compression in CODECS:
        producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            enable_idempotence=False,
            compression_type=compression,
            linger_ms=5,  # records in one batch, compressed together
        )
        await producer.start()
        try:
            sent = []
            for key, record in wine_records(rows, f"{compression}-"):
                sent.append(
                    await producer.send(s.data_topics[0], orjson.dumps(record), key=key.encode())
                )
            for i, row in enumerate(rows):
                tensor = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": row.tolist()}
                sent.append(
                    await producer.send(
                        s.oip_input_topic,
                        orjson.dumps({"inputs": [tensor]}),
                        key=f"{compression}-{i}".encode(),
                        headers=[("mlserver-model", b"wine-rf")],
                    )
                )
            for future in sent:
                await future
        finally:
            await producer.stop()

    expected = {f"{c}-{i}": label for c in CODECS for i, label in enumerate(labels)}
    predictions = await read_until(
        s.bootstrap_servers, s.output_topic, lambda r: len(r) >= len(expected)
    )
    assert {
        r.key.decode(): orjson.loads(r.value)["result"]["label"] for r in predictions
    } == expected
    answers = await read_until(
        s.bootstrap_servers, s.oip_output_topic, lambda r: len(r) >= len(expected)
    )
    assert {
        r.key.decode(): {o["name"]: o for o in orjson.loads(r.value)["outputs"]}["label"]["data"]
        for r in answers
    } == {key: [label] for key, label in expected.items()}
