"""``inference.GRPCInferenceService`` served in-process over an in-memory registry (no broker),
asked through the generated stub: every RPC, inference with typed and with raw contents equal
to onnxruntime's answer, and errors with their status codes (test_servicer_poison.py: a clean
status whatever arrives)."""

from __future__ import annotations

import struct
from typing import Any

import grpc
import numpy as np
import pytest

from service.grpc.servicer import status_code
from service.proto import open_inference_grpc_pb2 as pb
from service.wine import WINE_FIELDS
from tests.grpc.served import Server
from tests.models import ModelFiles
from tests.oip_helpers import forest_answer

Input = pb.ModelInferRequest.InferInputTensor
Requested = pb.ModelInferRequest.InferRequestedOutputTensor


async def refused(call: Any) -> tuple[Any, str]:
    """The status code and details of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


def bytes_elements(raw: bytes) -> list[str]:
    found, at = [], 0
    while at < len(raw):
        (size,) = struct.unpack_from("<I", raw, at)
        found.append(raw[at + 4 : at + 4 + size].decode())
        at += 4 + size
    return found


async def test_health_and_server_metadata(server: Server) -> None:
    assert (await server.stub.ServerLive(pb.ServerLiveRequest())).live is True
    assert (await server.stub.ServerReady(pb.ServerReadyRequest())).ready is True
    metadata = await server.stub.ServerMetadata(pb.ServerMetadataRequest())
    assert (metadata.name, metadata.version) == ("modelserve", "9.9")
    assert list(metadata.extensions) == ["binary_tensor_data"]


async def test_model_metadata_and_readiness(server: Server) -> None:
    meta = await server.stub.ModelMetadata(pb.ModelMetadataRequest(name="rf"))
    assert (meta.name, list(meta.versions), meta.platform) == ("rf", ["4"], "onnx_onnxv1")
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("X", "FP32", [-1, 11])]
    assert [t.name for t in meta.outputs] == ["label", "probabilities", "classes"]
    versioned = await server.stub.ModelMetadata(pb.ModelMetadataRequest(name="lr", version="1"))
    assert [(t.name, t.datatype) for t in versioned.outputs] == [("value", "FP64")]
    assert (await server.stub.ModelReady(pb.ModelReadyRequest(name="rf"))).ready is True
    ready = await server.stub.ModelReady(pb.ModelReadyRequest(name="rf", version="4"))
    assert ready.ready is True


async def test_infer_with_typed_contents_equals_onnxruntime(
    server: Server, model_files: ModelFiles
) -> None:
    rows = model_files.features[:5].astype(np.float32)
    labels, probabilities = forest_answer(model_files, rows)
    before = server.count("ok")
    answer = await server.stub.ModelInfer(
        pb.ModelInferRequest(
            model_name="rf",
            id="r1",
            inputs=[
                Input(
                    name="X",
                    datatype="FP32",
                    shape=[5, 11],
                    contents=pb.InferTensorContents(fp32_contents=rows.reshape(-1).tolist()),
                )
            ],
        )
    )
    assert (answer.model_name, answer.model_version, answer.id) == ("rf", "4", "r1")
    raws = answer.raw_output_contents
    outputs = {o.name: (o, raw) for o, raw in zip(answer.outputs, raws, strict=True)}
    assert set(outputs) == {"label", "probabilities", "classes"}
    label, raw_label = outputs["label"]
    assert (label.datatype, list(label.shape)) == ("BYTES", [5])
    assert bytes_elements(raw_label) == [str(v) for v in labels]
    p, raw_p = outputs["probabilities"]
    assert (p.datatype, list(p.shape)) == ("FP64", [5, probabilities.shape[1]])
    got = np.frombuffer(raw_p, dtype="<f8").reshape(5, -1)
    np.testing.assert_allclose(got, probabilities, rtol=1e-6)
    assert server.count("ok") == before + 1


async def test_infer_with_raw_contents_equals_onnxruntime(
    server: Server, model_files: ModelFiles
) -> None:
    rows = model_files.features[5:8].astype(np.float32)
    labels, _ = forest_answer(model_files, rows)
    answer = await server.stub.ModelInfer(
        pb.ModelInferRequest(
            model_name="rf",
            model_version="4",
            inputs=[Input(name="X", datatype="FP32", shape=[3, 11])],
            outputs=[Requested(name="label")],
            raw_input_contents=[rows.astype("<f4").tobytes()],
        )
    )
    (label,) = answer.outputs
    assert label.name == "label" and not label.HasField("contents")
    assert bytes_elements(answer.raw_output_contents[0]) == [str(v) for v in labels]


async def test_infer_by_the_schema_s_inputs(server: Server, model_files: ModelFiles) -> None:
    """One tensor per input of the model's schema, as the REST face takes them too."""
    rows = model_files.features[:2].astype(np.float32)
    inputs = [Input(name=name, datatype="FP32", shape=[2, 1]) for name in WINE_FIELDS]
    answer = await server.stub.ModelInfer(
        pb.ModelInferRequest(
            model_name="lr",
            inputs=inputs,
            raw_input_contents=[rows[:, [i]].astype("<f4").tobytes() for i in range(11)],
        )
    )
    (value,) = answer.outputs
    assert (value.name, value.datatype, list(value.shape)) == ("value", "FP64", [2])
    assert np.isfinite(np.frombuffer(answer.raw_output_contents[0], dtype="<f8")).all()


def infer(model: str = "rf", version: str = "", **tensor: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "X",
        "datatype": "FP32",
        "shape": [1, 11],
        "contents": pb.InferTensorContents(fp32_contents=[0.0] * 11),
    } | tensor
    return pb.ModelInferRequest(model_name=model, model_version=version, inputs=[Input(**fields)])


ERRORS = [
    (infer("nope"), grpc.StatusCode.NOT_FOUND, "unknown"),
    (infer(version="3"), grpc.StatusCode.NOT_FOUND, "version"),
    (infer(""), grpc.StatusCode.INVALID_ARGUMENT, "names no model"),
    (infer(shape=[2, 11]), grpc.StatusCode.INVALID_ARGUMENT, "elements"),
    (
        infer(shape=[0, 11], contents=pb.InferTensorContents()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "no rows",
    ),
    (infer(datatype="FP99"), grpc.StatusCode.INVALID_ARGUMENT, "datatype"),
    (infer(name="Y"), grpc.StatusCode.INVALID_ARGUMENT, "takes ['X']"),
    (
        infer(shape=[1, 10], contents=pb.InferTensorContents(fp32_contents=[0.0] * 10)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "shape",
    ),
]


@pytest.mark.parametrize(("request_", "code", "words"), ERRORS)
async def test_errors_have_their_status_codes(
    server: Server, request_: Any, code: Any, words: str
) -> None:
    got, details = await refused(server.stub.ModelInfer(request_))
    assert got == code and words in details, details


async def test_model_errors_and_undecodable_bytes(server: Server) -> None:
    code, details = await refused(server.stub.ModelMetadata(pb.ModelMetadataRequest(name="no")))
    assert code == grpc.StatusCode.NOT_FOUND and "unknown" in details
    # Not ready rather than an error, as Triton answers (tritonclient's is_model_ready).
    assert (await server.stub.ModelReady(pb.ModelReadyRequest(name="no"))).ready is False
    unknown_version = pb.ModelReadyRequest(name="rf", version="3")
    assert (await server.stub.ModelReady(unknown_version)).ready is False
    code, _ = await refused(server.stub.ModelReady(pb.ModelReadyRequest()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    before = server.count("400")
    code, details = await refused(server.raw("ModelInfer")(b"\xff\xff\xff"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "not a ModelInferRequest" in details
    assert server.count("400") == before + 1  # refused as it is read, and counted
    code, _ = await refused(server.raw("ModelReady")(b"\x0a\x05ab"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_unexpected_failure_is_internal_and_logged(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(name: str, version: str | None = None) -> Any:
        raise KeyError(name)

    monkeypatch.setattr(server.core.inference, "metadata", broken)
    code, details = await refused(server.stub.ModelMetadata(pb.ModelMetadataRequest(name="rf")))
    assert code == grpc.StatusCode.INTERNAL and details == "the service failed: KeyError"
    assert any("gRPC ModelMetadata failed" in r.getMessage() for r in caplog.records)


def test_oip_statuses_map_to_grpc_codes() -> None:
    assert status_code(400) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_code(404) == grpc.StatusCode.NOT_FOUND
    assert status_code(503) == grpc.StatusCode.UNAVAILABLE
    assert status_code(500) == grpc.StatusCode.INTERNAL
    assert status_code(413) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_code(502) == grpc.StatusCode.INTERNAL
