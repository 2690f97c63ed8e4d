"""Clients the project did not write, against the live service: ``tritonclient.http`` (JSON
and binary tensor data), ``tritonclient.grpc`` and ``kserve``'s REST and gRPC clients (in
their own environment, tests/peers) ask a classifier, a regressor and a model with string
inputs for answers, which equal onnxruntime's own; their errors are the protocol's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from bench import salary
from service.server import Service
from service.tools.devbroker import free_port
from tests.models import ModelFiles
from tests.peers.clients import infer_with
from tests.service_helpers import http, publish_and_wait, publish_forest

pytestmark = pytest.mark.kafka

ROWS = 5


def wine_tensor(model_files: ModelFiles, datatype: str = "FP32") -> dict[str, Any]:
    rows = model_files.features[:ROWS].astype(np.float64)
    return {"name": "X", "datatype": datatype, "shape": [ROWS, 11], "data": rows.tolist()}


def address(service: Service, client: str) -> str:
    port = service.settings.grpc_port if client.endswith("grpc") else service.http_port
    return f"127.0.0.1:{port}"


def onnx_answers(path: Path, feeds: dict[str, Any]) -> list[Any]:
    session = ort.InferenceSession(str(path))
    return list(session.run(None, feeds))


@pytest.fixture
async def served(
    start_service: Any, model_files: ModelFiles, salary_models: salary.Exports, tmp_path: Path
) -> Service:
    service: Service = await start_service(grpc_port=free_port())
    s = service.settings
    assert (await publish_forest(s, model_files))["status"] == "loaded"
    regressor = await publish_and_wait(
        s, model_files.regressor_onnx, "wine-lr", inputs=[f"f{i}" for i in range(11)]
    )
    assert regressor["status"] == "loaded", regressor
    (tmp_path / "salary.onnx").write_bytes(salary_models.onnx)
    census = await publish_and_wait(s, tmp_path / "salary.onnx", "salary", data_type="census")
    assert census["status"] == "loaded", census
    return service


@pytest.mark.parametrize(
    ("client", "binary", "compression"),
    [
        ("triton-http", True, None),
        ("triton-http", False, None),
        ("triton-http", True, "gzip"),
        ("kserve-rest", False, None),
        ("triton-grpc", False, None),
        ("kserve-grpc", False, None),
    ],
)
async def test_a_classifier_and_a_regressor_answer_as_onnxruntime(
    served: Service, model_files: ModelFiles, client: str, binary: bool, compression: str | None
) -> None:
    target = address(served, client)
    features = model_files.features[:ROWS].astype(np.float32)
    labels, probabilities = onnx_answers(model_files.forest_onnx, {"X": features})
    answer = await infer_with(
        client,
        target,
        "wine-rf",
        inputs=[wine_tensor(model_files)],
        outputs=["label", "probabilities", "classes"],
        binary=binary,
        compression=compression,
    )
    assert answer["label"] == [str(v) for v in labels]
    assert answer["classes"] == model_files.forest_classes
    np.testing.assert_allclose(
        np.reshape(answer["probabilities"], (ROWS, -1)), probabilities, rtol=1e-6
    )
    (values,) = onnx_answers(model_files.regressor_onnx, {"X": features})
    regressed = await infer_with(
        client,
        target,
        "wine-lr",
        inputs=[wine_tensor(model_files)],
        outputs=["value"],
        binary=binary,
        compression=compression,
    )
    np.testing.assert_allclose(regressed["value"], np.ravel(values), rtol=1e-6)


@pytest.mark.parametrize("client", ["triton-http", "kserve-rest", "triton-grpc"])
async def test_a_model_with_string_inputs_answers_as_onnxruntime(
    served: Service, salary_models: salary.Exports, client: str
) -> None:
    rows = salary.records(ROWS, seed=9)
    async with http(served) as web:
        meta = (await web.get("/v2/models/salary")).json()
    inputs, feeds = [], {}
    for spec in meta["inputs"]:
        values = [row[spec["name"].replace("_", "-")] for row in rows]
        shape = [ROWS, *spec["shape"][1:]]
        inputs.append(
            {"name": spec["name"], "datatype": spec["datatype"], "shape": shape, "data": values}
        )
        dtype = (
            object
            if spec["datatype"] == "BYTES"
            else np.int64
            if spec["datatype"] == "INT64"
            else np.float32
        )
        feeds[spec["name"]] = np.array(values, dtype=dtype).reshape(ROWS, 1)  # the graph's rank
    labels = onnx_answers_labels(salary_models.onnx, feeds)
    answer = await infer_with(
        client, address(served, client), "salary", inputs=inputs, outputs=["label"]
    )
    assert answer["label"] == labels


def onnx_answers_labels(artifact: bytes, feeds: dict[str, Any]) -> list[str]:
    session = ort.InferenceSession(artifact)
    return [str(v) for v in session.run(None, feeds)[0]]


async def test_errors_reach_the_client_as_the_protocol_says(
    served: Service, model_files: ModelFiles
) -> None:
    target = f"127.0.0.1:{served.http_port}"
    with pytest.raises(RuntimeError, match="unknown"):
        await infer_with(
            "triton-http", target, "nope", inputs=[wine_tensor(model_files)], outputs=["label"]
        )
    narrow = wine_tensor(model_files) | {"shape": [ROWS * 11]}
    with pytest.raises(RuntimeError, match="shape"):
        await infer_with("triton-http", target, "wine-rf", inputs=[narrow], outputs=["label"])
    grpc_target = address(served, "triton-grpc")
    with pytest.raises(RuntimeError, match=r"StatusCode\.NOT_FOUND"):
        await infer_with(
            "triton-grpc", grpc_target, "nope", inputs=[wine_tensor(model_files)], outputs=["label"]
        )
    with pytest.raises(RuntimeError, match=r"StatusCode\.INVALID_ARGUMENT"):
        await infer_with("triton-grpc", grpc_target, "wine-rf", inputs=[narrow], outputs=["label"])
