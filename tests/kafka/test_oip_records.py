"""Reading an Open Inference Protocol record as MLServer does (the model and version headers,
the request id from the key, else the body, else where the record is) and MLServer's
CloudEvents headers on the answer; no broker, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from service.errors import DecodeError, InvalidRecordError, RecordError
from service.kafka.oip_codecs import JSON, PROTOBUF, codec_for
from service.kafka.oip_records import cloud_event_headers, kubernetes_namespace, read_call
from service.oip.messages import InferResponse, OutputTensor, Tensor
from service.proto import open_inference_grpc_pb2 as pb
from service.scoring.records import MAX_ID_CHARS

from .fake import FakeRecord

PROTOBUF_ = (("content-type", b"application/x-protobuf"),)
REQUEST = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [2], "data": [1.5, 2.5]}]}


def proto_request(**fields: str) -> bytes:
    message = pb.ModelInferRequest(id="in-body", **fields)
    x = message.inputs.add(name="x", datatype="FP64", shape=[2])
    x.contents.fp64_contents.extend([1.5, 2.5])
    return bytes(message.SerializeToString())


def record(
    value: object = REQUEST,
    key: bytes | None = None,
    headers: tuple[tuple[str, bytes], ...] = (("mlserver-model", b"sum"),),
) -> FakeRecord:
    raw = value if isinstance(value, bytes) or value is None else orjson.dumps(value)
    return FakeRecord("mlserver-input", 3, 41, key, raw, 0, headers)


def test_the_model_header_names_the_model_and_the_tensors_are_read() -> None:
    call = read_call(record(), 64)
    assert (call.model, call.version) == ("sum", None)
    (tensor,) = call.request.inputs
    assert tensor.name == "x" and tensor.shape == (2,)
    np.testing.assert_array_equal(tensor.data, [1.5, 2.5])
    assert call.codec is JSON


def test_the_version_header_names_the_version() -> None:
    headers = (("mlserver-model", b"sum"), ("mlserver-version", b"7"))
    assert read_call(record(headers=headers), 64).version == "7"


def test_the_last_of_repeated_headers_counts_as_in_mlserver_s_dict() -> None:
    headers = (("mlserver-model", b"first"), ("mlserver-model", b"second"))
    assert read_call(record(headers=headers), 64).model == "second"


@pytest.mark.parametrize(
    ("key", "body_id", "expected"),
    [
        (b"from-key", "from-body", "from-key"),  # MLServer: the key takes precedence
        (None, "from-body", "from-body"),
        (b"", "from-body", "from-body"),  # an empty key is no key
        (None, None, "mlserver-input/3/41"),  # the same id if the record is read again
    ],
)
def test_the_request_id(key: bytes | None, body_id: str | None, expected: str) -> None:
    body = REQUEST | ({"id": body_id} if body_id is not None else {})
    call = read_call(record(body, key=key), 64)
    assert call.request_id == expected == call.request.id


@pytest.mark.parametrize(
    ("rec", "error", "says"),
    [
        (record(b"\xff{not json"), DecodeError, "value is not JSON"),
        (record(None), DecodeError, "record has no value"),
        (record([1, 2]), DecodeError, "value is a JSON list, not an object"),
        (record({"inputs": []}), InvalidRecordError, "must have a list of inputs"),
        (
            record({"inputs": [{"name": "x", "datatype": "FP64", "shape": [3], "data": [1]}]}),
            InvalidRecordError,
            "input 'x': 1 elements for shape [3]",
        ),
        (record(headers=()), InvalidRecordError, "no mlserver-model header names the model"),
        (record(headers=(("mlserver-model", b""),)), InvalidRecordError, "no mlserver-model"),
        (record(headers=(("mlserver-model", b"\xff"),)), InvalidRecordError, "not UTF-8"),
        (record(key=b"\xfe\xff"), InvalidRecordError, "the key is not UTF-8"),
        (record(key=b"k" * (MAX_ID_CHARS + 1)), InvalidRecordError, "key is longer than"),
        (
            record(REQUEST | {"id": "i" * (MAX_ID_CHARS + 1)}),
            InvalidRecordError,
            "the request's id is longer than",
        ),
        (
            record(headers=(("mlserver-model", b"sum"), ("content-type", b"text/csv"))),
            DecodeError,
            "content-type 'text/csv' is not served",
        ),
        (
            record(b"\xff\xff\xff", headers=(("content-type", b"application/x-protobuf"),)),
            DecodeError,
            "value is not a protobuf ModelInferRequest",
        ),
        (
            record(pb.ModelInferRequest(model_name="sum").SerializeToString(), headers=PROTOBUF_),
            InvalidRecordError,
            "the request has no inputs",
        ),
        (
            record(proto_request(), headers=PROTOBUF_),
            InvalidRecordError,
            "no mlserver-model header names the model",
        ),
    ],
)
def test_what_cannot_be_read_says_why(rec: FakeRecord, error: type[RecordError], says: str) -> None:
    with pytest.raises(error) as caught:
        read_call(rec, 64)
    assert type(caught.value) is error and says in str(caught.value)


def test_json_nested_past_the_limit_is_refused_before_it_is_walked() -> None:
    deep = b'{"inputs":' + b"[" * 70 + b"]" * 70 + b"}"
    with pytest.raises(DecodeError, match="deeper than 64"):
        read_call(record(deep), 64)


def test_json_content_types_with_parameters_are_json() -> None:
    assert codec_for("Application/JSON; charset=utf-8") is JSON
    assert codec_for(None) is JSON
    assert codec_for("application/x-protobuf") is PROTOBUF


def test_a_protobuf_request_may_name_its_model_and_version_itself() -> None:
    call = read_call(
        record(proto_request(model_name="sum", model_version="3"), headers=PROTOBUF_), 64
    )
    assert (call.model, call.version, call.request_id) == ("sum", "3", "in-body")
    (tensor,) = call.request.inputs
    np.testing.assert_array_equal(tensor.data, [1.5, 2.5])
    assert call.codec is PROTOBUF


def test_the_headers_name_the_model_over_a_protobuf_request() -> None:
    headers = (*PROTOBUF_, ("mlserver-model", b"other"), ("mlserver-version", b"9"))
    call = read_call(
        record(proto_request(model_name="sum", model_version="3"), headers=headers), 64
    )
    assert (call.model, call.version) == ("other", "9")


def test_a_protobuf_answer_is_a_model_infer_response() -> None:
    tensor = Tensor("value", "FP64", (2,), np.array([1.0, 2.0]))
    response = InferResponse("sum", "1", [OutputTensor(tensor)], id="r1")
    message = pb.ModelInferResponse.FromString(PROTOBUF.write(response))
    assert (message.model_name, message.model_version, message.id) == ("sum", "1", "r1")
    assert [(o.name, o.datatype, list(o.shape)) for o in message.outputs] == [
        ("value", "FP64", [2])
    ]
    np.testing.assert_array_equal(np.frombuffer(message.raw_output_contents[0], "<f8"), [1, 2])


def test_the_answer_is_json_alone_even_when_binary_outputs_were_asked() -> None:
    tensor = Tensor("value", "FP64", (2,), np.array([1.0, 2.0]))
    response = InferResponse("sum", "1", [OutputTensor(tensor, binary=True)], id="r1")
    assert orjson.loads(JSON.write(response)) == {
        "model_name": "sum",
        "model_version": "1",
        "id": "r1",
        "outputs": [{"name": "value", "datatype": "FP64", "shape": [2], "data": [1.0, 2.0]}],
    }


def test_cloud_event_headers_are_mlserver_s() -> None:
    response = InferResponse("sum", "1", [], id="r1")
    assert cloud_event_headers(response, "modelserve") == [
        ("Ce-Specversion", b"0.3"),
        ("Ce-Source", b"io.seldon.serving.deployment.modelserve"),
        ("Ce-Type", b"io.seldon.serving.inference.response"),
        ("Ce-Modelid", b"sum"),
        ("Ce-Inferenceservicename", b"modelserve"),
        ("Ce-Endpoint", b"sum"),
        ("Ce-Id", b"r1"),
        ("Ce-Requestid", b"r1"),
    ]


def test_in_kubernetes_the_namespace_is_named_too(tmp_path: Path) -> None:
    path = tmp_path / "namespace"
    path.write_text("serving\n")
    namespace = kubernetes_namespace(path)
    assert namespace == "serving"
    headers = dict(cloud_event_headers(InferResponse("m", "1", [], id="r"), "ms", namespace))
    assert headers["Ce-Source"] == b"io.seldon.serving.deployment.ms.serving"
    assert headers["Ce-Namespace"] == b"serving"
    assert kubernetes_namespace(tmp_path / "absent") is None
