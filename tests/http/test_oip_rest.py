"""The Open Inference Protocol's REST face over an in-memory registry (no broker): health,
metadata, readiness and inference, JSON and binary, answers equal to onnxruntime's, errors
as ``{"error"}`` with their status."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from service.http.app import Health, create_app
from tests.models import ModelFiles
from tests.oip_helpers import forest_answer, served

COMPRESS: dict[str | None, Callable[[bytes], bytes]] = {
    None: bytes,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}


def client(model_files: ModelFiles, ready: bool = True) -> httpx.AsyncClient:
    core = served(model_files, ready)
    app = create_app(
        core.registry,
        core.metrics,
        core.engine,
        Health(live=lambda: True, ready=lambda: {"controlCaughtUp": ready}),
        inference=core.inference,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_health_and_metadata(model_files: ModelFiles) -> None:
    async with client(model_files) as c:
        assert (await c.get("/v2/health/live")).json() == {"live": True}
        assert (await c.get("/v2/health/ready")).json() == {"ready": True}
        server = (await c.get("/v2")).json()
        assert server == {
            "name": "modelserve",
            "version": "9.9",
            "extensions": ["binary_tensor_data"],
        }
        meta = (await c.get("/v2/models/rf")).json()
        assert meta["name"] == "rf" and meta["versions"] == ["4"]
        assert meta["platform"] == "onnx_onnxv1"
        assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 11]}]
        names = [o["name"] for o in meta["outputs"]]
        assert names == ["label", "probabilities", "classes"]
        assert (await c.get("/v2/models/rf/versions/4")).status_code == 200
        assert (await c.get("/v2/models/rf/ready")).json() == {"name": "rf", "ready": True}
        regressor = (await c.get("/v2/models/lr")).json()
        assert regressor["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1]}]


async def test_not_ready_is_503_with_a_body(model_files: ModelFiles) -> None:
    async with client(model_files, ready=False) as c:
        answer = await c.get("/v2/health/ready")
        assert answer.status_code == 503 and answer.json() == {"ready": False}


async def test_infer_json_equals_onnxruntime(model_files: ModelFiles) -> None:
    rows = model_files.features[:5].astype(np.float64)
    labels, probabilities = forest_answer(model_files, rows)
    body = {
        "id": "r1",
        "inputs": [
            {"name": "X", "datatype": "FP32", "shape": [5, 11], "data": rows.reshape(-1).tolist()}
        ],
    }
    async with client(model_files) as c:
        answer = await c.post("/v2/models/rf/infer", json=body)
        assert answer.status_code == 200, answer.text
        document = answer.json()
    assert document["model_name"] == "rf" and document["model_version"] == "4"
    assert document["id"] == "r1"
    outputs = {o["name"]: o for o in document["outputs"]}
    assert outputs["label"]["data"] == [str(v) for v in labels]
    assert outputs["probabilities"]["shape"] == [5, len(probabilities[0])]
    got = np.array(outputs["probabilities"]["data"]).reshape(5, -1)
    np.testing.assert_allclose(got, probabilities, rtol=1e-6)


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
async def test_infer_binary_in_and_out(model_files: ModelFiles, encoding: str | None) -> None:
    """Binary tensor data both ways, in a body sent as it is or compressed (tritonclient's
    ``request_compression_algorithm``: the header length counts the decompressed body)."""
    rows = model_files.features[:3].astype(np.float32)
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "X",
                    "datatype": "FP32",
                    "shape": [3, 11],
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
        }
    )
    async with client(model_files) as c:
        answer = await c.post(
            "/v2/models/rf/infer",
            content=COMPRESS[encoding](header + rows.tobytes()),
            headers={"Inference-Header-Content-Length": str(len(header))}
            | ({"Content-Encoding": encoding} if encoding else {}),
        )
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["inference-header-content-length"])
    document = orjson.loads(answer.content[:length])
    (label,) = document["outputs"]
    assert label["name"] == "label" and label["shape"] == [3]
    blob = answer.content[length:]
    assert len(blob) == label["parameters"]["binary_data_size"]
    decoded, at = [], 0
    while at < len(blob):
        (size,) = struct.unpack_from("<I", blob, at)
        decoded.append(blob[at + 4 : at + 4 + size].decode())
        at += 4 + size
    assert decoded == [str(v) for v in forest_answer(model_files, rows.astype(np.float64))[0]]


async def test_an_empty_outputs_list_asks_for_every_output(model_files: ModelFiles) -> None:
    """``"outputs": []`` names no output, as gRPC's empty ``outputs`` does: every output is
    answered (as when ``outputs`` is absent), never an answer with none."""
    x = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [0.0] * 11}
    async with client(model_files) as c:
        omitted = await c.post("/v2/models/rf/infer", json={"inputs": [x]})
        empty = await c.post("/v2/models/rf/infer", json={"inputs": [x], "outputs": []})
    assert empty.status_code == 200, empty.text
    names = [o["name"] for o in empty.json()["outputs"]]
    assert names == ["label", "probabilities", "classes"]
    assert empty.json() == omitted.json()


async def test_errors_are_json_with_their_status(model_files: ModelFiles) -> None:
    good = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [0.0] * 11}
    async with client(model_files) as c:
        cases: list[tuple[str, Any, int, str]] = [
            ("/v2/models/nope/infer", {"inputs": [good]}, 404, "unknown"),
            ("/v2/models/rf/versions/3/infer", {"inputs": [good]}, 404, "version"),
            ("/v2/models/rf/infer", {"inputs": [good | {"shape": [2, 11]}]}, 400, "elements"),
            (
                "/v2/models/rf/infer",
                {"inputs": [good | {"shape": [1, 10], "data": [0.0] * 10}]},
                400,
                "shape",
            ),
            ("/v2/models/rf/infer", {"inputs": [good | {"name": "Y"}]}, 400, "takes ['X']"),
            ("/v2/models/rf/infer", {"inputs": [good | {"datatype": "FP99"}]}, 400, "datatype"),
            ("/v2/models/rf/infer", {"inputs": [good], "outputs": [{"name": "z"}]}, 400, "output"),
            ("/v2/models/rf/infer", {"inputs": []}, 400, "inputs"),
            (
                "/v2/models/rf/infer",
                {"inputs": [good | {"shape": [0, 11], "data": []}]},
                400,
                "rows",
            ),
        ]
        for path, body, status, words in cases:
            answer = await c.post(path, json=body)
            assert answer.status_code == status, (body, answer.text)
            assert words in answer.json()["error"], answer.text
        bad_json = await c.post("/v2/models/rf/infer", content=b"{")
        assert bad_json.status_code == 400 and "error" in bad_json.json()
        assert (await c.get("/v2/models/nope")).status_code == 404
        assert (await c.get("/v2/nothing")).json()["error"]


async def test_a_bug_a_request_reaches_is_a_500_that_says_so(
    model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr("service.oip.inference.bind", broken)
    good = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [0.0] * 11}
    async with client(model_files) as c:
        answer = await c.post("/v2/models/rf/infer", json={"inputs": [good]})
        assert answer.status_code == 500
        assert answer.json() == {"error": "the service could not answer: KeyError"}
        monkeypatch.undo()
        assert (await c.post("/v2/models/rf/infer", json={"inputs": [good]})).status_code == 200
