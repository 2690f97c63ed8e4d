"""The protocol's protobuf messages decoded and encoded: typed contents per datatype (each in
its own field, checked against it), raw contents in input order, all or none, the request's
id, version, outputs and parameters, and answers in raw_output_contents; whatever is not a
request is a 400 that says why."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from service.oip.datatypes import DATATYPES, to_binary
from service.oip.messages import (
    InferResponse,
    ModelMetadata,
    OipError,
    OutputTensor,
    Tensor,
    TensorMetadata,
)
from service.oip.protobuf_codec import metadata_to_proto, request_from_proto, response_to_proto
from service.proto import open_inference_grpc_pb2 as pb

# A value of each datatype that has a typed field, as that field holds it.
TYPED: dict[str, tuple[str, list[Any]]] = {
    "BOOL": ("bool_contents", [True, False, True, True]),
    "INT8": ("int_contents", [-128, 0, 5, 127]),
    "INT16": ("int_contents", [-32768, 1, 2, 32767]),
    "INT32": ("int_contents", [-(2**31), 1, 2, 2**31 - 1]),
    "INT64": ("int64_contents", [-(2**63), 1, 2, 2**63 - 1]),
    "UINT8": ("uint_contents", [0, 1, 2, 255]),
    "UINT16": ("uint_contents", [0, 1, 2, 65535]),
    "UINT32": ("uint_contents", [0, 1, 2, 2**32 - 1]),
    "UINT64": ("uint64_contents", [0, 1, 2, 2**64 - 1]),
    "FP32": ("fp32_contents", [0.5, -1.25, 3.0, 1e30]),
    "FP64": ("fp64_contents", [0.1, -1e300, 3.0, 2.5]),
    "BYTES": ("bytes_contents", [b"a", b"", b"\xff\x00", b"long text"]),
}


def request(*inputs: Any, **fields: Any) -> Any:
    return pb.ModelInferRequest(model_name="m", inputs=list(inputs), **fields)


def tensor(name: str, datatype: str, shape: list[int], **contents: Any) -> Any:
    return pb.ModelInferRequest.InferInputTensor(
        name=name,
        datatype=datatype,
        shape=shape,
        contents=pb.InferTensorContents(**contents) if contents else None,
    )


def refusal(message: Any) -> str:
    with pytest.raises(OipError) as caught:
        request_from_proto(message)
    assert caught.value.status == 400
    return caught.value.message


@pytest.mark.parametrize("datatype", TYPED)
def test_typed_contents_of_every_datatype(datatype: str) -> None:
    field, values = TYPED[datatype]
    name, version, decoded = request_from_proto(
        request(tensor("x", datatype, [2, 2], **{field: values}))
    )
    assert (name, version) == ("m", None)
    (x,) = decoded.inputs
    assert (x.name, x.datatype, x.shape) == ("x", datatype, (2, 2))
    assert x.data.dtype == DATATYPES[datatype] and x.data.shape == (2, 2)
    expected = np.array(values, dtype=np.float32).tolist() if datatype == "FP32" else values
    assert x.data.reshape(-1).tolist() == expected


@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_raw_contents_of_every_datatype(datatype: str) -> None:
    if datatype == "BYTES":
        data = np.array([b"a", b"", b"xyz"], dtype=object)
    else:
        data = np.arange(3).astype(DATATYPES[datatype])
    message = request(
        tensor("a", datatype, [3]),
        tensor("b", "INT32", [1]),
        raw_input_contents=[to_binary(data), struct.pack("<i", 7)],
    )
    _, _, decoded = request_from_proto(message.SerializeToString())
    a, b = decoded.inputs
    assert a.data.tolist() == data.tolist() and a.data.dtype == DATATYPES[datatype]
    assert b.data.tolist() == [7]


def test_the_request_s_id_version_outputs_and_parameters() -> None:
    message = request(
        tensor("x", "FP64", [1], fp64_contents=[1.0]),
        model_version="3",
        id="r-1",
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="label")],
        parameters={
            "b": pb.InferParameter(bool_param=True),
            "i": pb.InferParameter(int64_param=-4),
            "s": pb.InferParameter(string_param="text"),
            "d": pb.InferParameter(double_param=0.5),
            "u": pb.InferParameter(uint64_param=2**64 - 1),
            "none": pb.InferParameter(),
        },
    )
    name, version, decoded = request_from_proto(message)
    assert (name, version, decoded.id) == ("m", "3", "r-1")
    assert [o.name for o in decoded.outputs or []] == ["label"]
    assert decoded.parameters == {"b": True, "i": -4, "s": "text", "d": 0.5, "u": 2**64 - 1}
    _, _, bare = request_from_proto(request(tensor("x", "FP64", [1], fp64_contents=[1.0])))
    assert bare.id is None and bare.outputs is None and bare.parameters == {}


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (request(), "no inputs"),
        (request(tensor("x", "FP99", [1])), "unknown datatype"),
        (request(tensor("x", "FP32", [-1], fp32_contents=[1.0])), "shape"),
        (request(tensor("x", "FP32", [2], fp32_contents=[1.0])), "1 elements for shape [2]"),
        (request(tensor("x", "FP32", [1], fp64_contents=[1.0])), "goes in fp32_contents"),
        (request(tensor("x", "INT8", [1], int_contents=[128])), "in range"),
        (request(tensor("x", "UINT16", [1], uint_contents=[65536])), "in range"),
        (request(tensor("x", "FP16", [1], fp32_contents=[1.0])), "raw_input_contents only"),
        (request(tensor("x", "FP32", [1])), "0 elements"),
        (
            request(
                tensor("x", "FP32", [1], fp32_contents=[1.0]),
                raw_input_contents=[struct.pack("<f", 1.0)],
            ),
            "one form",
        ),
        (
            request(
                tensor("x", "FP32", [1]),
                tensor("y", "FP32", [1]),
                raw_input_contents=[struct.pack("<f", 1.0)],
            ),
            "1 raw_input_contents for 2 inputs",
        ),
        (request(tensor("x", "FP32", [2]), raw_input_contents=[b"\0" * 4]), "4 bytes"),
        (
            request(
                tensor("x", "FP32", [1], fp32_contents=[1.0]),
                outputs=[
                    pb.ModelInferRequest.InferRequestedOutputTensor(
                        name="label",
                        parameters={"classification": pb.InferParameter(int64_param=2)},
                    )
                ],
            ),
            "classification",
        ),
        (b"\xff\xff\xff", "not a ModelInferRequest"),
    ],
)
def test_what_is_not_a_request_is_a_400_that_says_why(message: Any, words: str) -> None:
    assert words in refusal(message)


def test_shared_memory_is_refused() -> None:
    x = tensor("x", "FP32", [1], fp32_contents=[1.0])
    x.parameters["shared_memory_region"].string_param = "region"
    assert "shared memory" in refusal(request(x))


def test_the_answer_is_raw_in_output_order() -> None:
    label = Tensor("label", "BYTES", (2,), np.array(["3", "4"], dtype=object))
    p = np.array([[0.25, 0.75], [1.0, 0.0]])
    probabilities = Tensor("probabilities", "FP64", (2, 2), p)
    answer = response_to_proto(
        InferResponse(
            "rf",
            "4",
            [OutputTensor(label), OutputTensor(probabilities, binary=False)],
            id="r-1",
            parameters={"b": True, "i": 3, "u": 2**64 - 1, "d": 0.5, "s": "x"},
        )
    )
    assert (answer.model_name, answer.model_version, answer.id) == ("rf", "4", "r-1")
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.outputs] == [
        ("label", "BYTES", [2]),
        ("probabilities", "FP64", [2, 2]),
    ]
    assert not any(o.HasField("contents") for o in answer.outputs)
    raw_label, raw_p = answer.raw_output_contents
    assert raw_label == b"\x01\0\0\x003\x01\0\0\x004"
    assert np.frombuffer(raw_p, dtype="<f8").reshape(2, 2).tolist() == p.tolist()
    parameters = {k: v.WhichOneof("parameter_choice") for k, v in answer.parameters.items()}
    assert parameters == {
        "b": "bool_param",
        "i": "int64_param",
        "u": "uint64_param",
        "d": "double_param",
        "s": "string_param",
    }
    assert response_to_proto(InferResponse("rf", "4", [])).id == ""


def test_a_parameter_protobuf_cannot_hold_is_a_400() -> None:
    with pytest.raises(OipError, match="out of protobuf's range") as caught:
        response_to_proto(InferResponse("rf", "4", [], parameters={"big": 2**64}))
    assert caught.value.status == 400


def test_model_metadata() -> None:
    answer = metadata_to_proto(
        ModelMetadata(
            "rf",
            ("4",),
            "onnx_onnxv1",
            (TensorMetadata("X", "FP32", (-1, 11)),),
            (TensorMetadata("label", "BYTES", (-1,)),),
        )
    )
    assert (answer.name, list(answer.versions), answer.platform) == ("rf", ["4"], "onnx_onnxv1")
    assert [(t.name, t.datatype, list(t.shape)) for t in answer.inputs] == [("X", "FP32", [-1, 11])]
    assert [(t.name, t.datatype, list(t.shape)) for t in answer.outputs] == [
        ("label", "BYTES", [-1])
    ]
