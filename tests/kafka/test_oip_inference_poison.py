"""Whatever a record on the Open Inference Protocol's input topic holds — any bytes, any JSON,
any headers and key, the model's request with one part wrong, in JSON or protobuf — it ends as
exactly one answer or one dead letter with a known reason, and nothing escapes
(kafka/oip_inference.py, over the real Inference, engine and batcher)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.proto import open_inference_grpc_pb2 as pb

from .oip_rig import REASONS, Rig, reasons

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
tensors = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["x", "y", "z"]) | json_values,
        "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BYTES", "BOOL", "FP16"])
        | json_values,
        "shape": st.lists(st.integers(-2, 3), max_size=3) | json_values,
        "data": st.lists(st.floats() | st.integers() | st.text(max_size=3), max_size=4)
        | json_values,
        "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    },
)
requests_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "inputs": st.lists(tensors, max_size=3) | json_values,
        "outputs": st.lists(st.fixed_dictionaries({"name": json_values}), max_size=2) | json_values,
        "parameters": st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    },
)


numbers = st.floats(allow_nan=False, width=32) | st.integers(-9, 9)
# Most often nothing (an answer), else one part of the model's request spoiled.
SPOILS = [None, None, None, "datatype", "shape", "data", "name", "rows", "missing", "outputs"]


@st.composite
def nearly_requests(draw: st.DrawFn) -> dict[str, Any]:
    """The model's request (x and y, one row each or more) with at most one part drawn wrong:
    so that answers are drawn as well as refusals."""
    rows = draw(st.integers(1, 3))

    def tensor(name: str) -> dict[str, Any]:
        data = draw(st.lists(numbers, min_size=rows, max_size=rows))
        return {"name": name, "datatype": "FP64", "shape": [rows], "data": data}

    inputs = [tensor("x"), tensor("y")]
    spoiled = draw(st.sampled_from(inputs))
    spoil = draw(st.sampled_from(SPOILS))
    if spoil == "datatype":
        spoiled["datatype"] = draw(st.sampled_from(["INT32", "BYTES", "BOOL", "FP16", "UINT8"]))
    elif spoil == "shape":
        spoiled["shape"] = draw(st.sampled_from([[rows, 1], [1, rows], [], [rows, 2], [-1]]))
    elif spoil == "data":
        spoiled["data"] = draw(st.lists(numbers | st.booleans() | st.text(max_size=2), max_size=4))
    elif spoil == "name":
        spoiled["name"] = draw(st.text(max_size=2))
    elif spoil == "rows":
        spoiled["shape"], spoiled["data"] = [0], []
    elif spoil == "missing":
        inputs.remove(spoiled)
    request: dict[str, Any] = {"inputs": inputs}
    if spoil == "outputs":
        request["outputs"] = [{"name": draw(st.sampled_from(["value", "label", ""]))}]
    if draw(st.booleans()):
        request["id"] = draw(st.text(max_size=4))
    return request


@st.composite
def protobuf_requests(draw: st.DrawFn) -> bytes:
    """The same as a ``ModelInferRequest``, its data typed or raw, the model named in it or
    not (then only a header names it)."""
    request = draw(nearly_requests())
    message = pb.ModelInferRequest(
        model_name=draw(st.sampled_from(["sum", "", "nobody"])),
        model_version=draw(st.sampled_from(["", "3", "2"])),
        id=request.get("id", ""),
    )
    raw = draw(st.booleans())
    for drawn in request["inputs"]:
        datatype = drawn["datatype"] if drawn["datatype"] in ("FP64", "FP16") else "FP64"
        tensor = message.inputs.add(name=drawn["name"], datatype=datatype, shape=drawn["shape"])
        data = [float(v) for v in drawn["data"] if isinstance(v, int | float)]
        if raw:
            message.raw_input_contents.append(struct.pack(f"<{len(data)}d", *data))
        else:
            tensor.contents.fp64_contents.extend(data)
    for output in request.get("outputs", []):
        message.outputs.add(name=output["name"])
    return bytes(message.SerializeToString())


values = (
    st.none()
    | st.binary(max_size=64)
    | json_values.map(orjson.dumps)
    | requests_like.map(orjson.dumps)
    | nearly_requests().map(orjson.dumps)
)
header_names = st.sampled_from(["mlserver-model", "mlserver-version", "content-type"]) | st.text(
    max_size=8
)
header_values = st.sampled_from(
    [b"sum", b"3", b"2", b"application/json", b"application/x-protobuf", b""]
) | st.binary(max_size=8)
headers = st.lists(st.tuples(header_names, header_values), max_size=3)
keys = st.none() | st.binary(max_size=8)
Fed = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]
# Anything at all; the model's request with a part wrong under the model's header (a record
# without it is refused before its body counts); or the same in protobuf, the model named in
# the message or in a header: refusals of every kind, and answers.
records = (
    st.tuples(keys, values, headers)
    | st.tuples(
        keys,
        protobuf_requests(),
        st.sampled_from([[], [("mlserver-model", b"sum")]]).map(
            lambda more: [("content-type", b"application/x-protobuf"), *more]
        ),
    )
    | st.tuples(
        keys,
        nearly_requests().map(orjson.dumps),
        st.sampled_from([[], [("mlserver-version", b"3")], [("mlserver-version", b"2")]]).map(
            lambda more: [("mlserver-model", b"sum"), *more]
        ),
    )
)


def test_whatever_a_record_holds_it_ends_as_one_answer_or_one_dead_letter() -> None:
    rig = Rig()
    answers = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(records, max_size=4))
    def check(drawn: list[Fed]) -> None:
        nonlocal answers
        fed = [rig.record(value, key, record_headers) for key, value, record_headers in drawn]
        answered = runner.run(rig.requests.answer(fed))
        assert len(answered.answers) + len(answered.dead_letters) == len(fed)
        assert set(reasons(answered)) <= REASONS
        assert len(reasons(answered)) == len(answered.dead_letters)
        for answer in answered.answers:
            if ("content-type", b"application/x-protobuf") in answer.headers:
                assert pb.ModelInferResponse.FromString(answer.value).model_name == "sum"
            else:
                assert orjson.loads(answer.value)["model_name"] == "sum"
        answers += len(answered.answers)

    with asyncio.Runner() as runner:  # one loop for every example: its threads are made once
        check()
    assert answers > 0  # the strategies reach answers, not only refusals
