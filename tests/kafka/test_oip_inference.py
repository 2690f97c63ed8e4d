"""Open Inference Protocol requests from Kafka answered through the real Inference, engine and
batcher, over a counting model (no broker): answers keyed by request id with their CloudEvents
headers, a batch's requests in one model call, the version header honoured, and every request
that cannot be answered a dead letter with its reason; whatever a record holds, it ends as
exactly one of the two and nothing escapes."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.inputs.schema import InputSchema, TypedBatch
from service.kafka import oip_inference
from service.kafka.oip_inference import Answered, KafkaInference
from service.metrics import Metrics
from service.oip.inference import Inference
from service.oip.messages import InferRequest, InferResponse
from service.proto import open_inference_grpc_pb2 as pb
from service.routing.registry import Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor

from .fake import FakeRecord

REASONS = {"decode-error", "invalid-record", "no-model", "scoring-error"}


class CountingSum:
    """Answers each row's sum, and counts its calls."""

    input_schema = InputSchema.numeric(["x", "y"])
    runtime = RuntimeInfo("sum", "1")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, batch: TypedBatch) -> BatchResult:
        self.calls.append(batch.size)
        return BatchResult("regressor", batch.size, values=batch.matrix().sum(axis=1))

    def close(self) -> None:
        pass


class Rig:
    def __init__(self, inference: type[Inference] = Inference) -> None:
        self.model = CountingSum()
        self.metrics = Metrics()
        registry = Registry()
        descriptor = ModelDescriptor.model_validate(
            {"name": "sum", "version": 3, "dataType": "sums", "modelType": "ONNX", "data": "AA=="}
        )
        registry.install(descriptor, self.model, "0" * 64)
        engine = Engine(registry, self.metrics, None)
        answering = inference(registry, engine, self.metrics, 1000, lambda: True, lambda: True, "t")
        self.requests = KafkaInference(answering, self.metrics, "in", "out", 64)
        self.offset = 0

    def record(
        self, value: Any, key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> FakeRecord:
        raw = value if isinstance(value, bytes) or value is None else orjson.dumps(value)
        self.offset += 1
        return FakeRecord("in", 0, self.offset, key, raw, 0, tuple(headers))

    def request(
        self, x: float, y: float, key: str | None = None, model: str = "sum", **headers: str
    ) -> FakeRecord:
        body = {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [1], "data": [x]},
                {"name": "y", "datatype": "FP64", "shape": [1], "data": [y]},
            ]
        }
        names = [("mlserver-model", model.encode())]
        names += [(k.replace("_", "-"), v.encode()) for k, v in headers.items()]
        return self.record(body, key.encode() if key else None, names)


def reasons(answered: Answered) -> list[str]:
    return [o.error.reason for o in answered.dead_letters if o.error is not None]


async def test_answers_are_keyed_by_request_id_with_mlserver_s_headers() -> None:
    rig = Rig()
    answered = await rig.requests.answer([rig.request(1.0, 2.0, key="r1")])
    assert answered.dead_letters == []
    ((key, value, headers),) = answered.answers
    assert key == b"r1"
    assert orjson.loads(value) == {
        "model_name": "sum",
        "model_version": "3",
        "id": "r1",
        "outputs": [{"name": "value", "datatype": "FP64", "shape": [1], "data": [3.0]}],
    }
    assert dict(headers) == {
        "Ce-Specversion": b"0.3",
        "Ce-Source": b"io.seldon.serving.deployment.modelserve",
        "Ce-Type": b"io.seldon.serving.inference.response",
        "Ce-Modelid": b"sum",
        "Ce-Inferenceservicename": b"modelserve",
        "Ce-Endpoint": b"sum",
        "Ce-Id": b"r1",
        "Ce-Requestid": b"r1",
    }
    assert rig.metrics.inference_requests.labels("kafka", "ok")._value.get() == 1


async def test_a_batch_of_requests_for_one_model_is_one_model_call() -> None:
    rig = Rig()
    records = [rig.request(float(i), 1.0, key=f"r{i}") for i in range(50)]
    answered = await rig.requests.answer(records)
    assert rig.model.calls == [50]
    sums = {a.key: orjson.loads(a.value)["outputs"][0]["data"][0] for a in answered.answers}
    assert sums == {f"r{i}".encode(): i + 1.0 for i in range(50)}


async def test_a_protobuf_request_is_answered_in_protobuf() -> None:
    rig = Rig()
    message = pb.ModelInferRequest(model_name="sum", id="p1")
    for name, element in (("x", 1.0), ("y", 2.5)):
        tensor = message.inputs.add(name=name, datatype="FP64", shape=[1])
        tensor.contents.fp64_contents.append(element)
    record = rig.record(
        message.SerializeToString(), headers=[("content-type", b"application/x-protobuf")]
    )
    answered = await rig.requests.answer([record])
    ((key, value, headers),) = answered.answers
    answer = pb.ModelInferResponse.FromString(value)
    assert key == b"p1"
    assert (answer.model_name, answer.model_version, answer.id) == ("sum", "3", "p1")
    assert [o.name for o in answer.outputs] == ["value"]
    assert list(answer.raw_output_contents) == [struct.pack("<d", 3.5)]
    assert headers[-1] == ("content-type", b"application/x-protobuf")
    assert ("Ce-Modelid", b"sum") in headers


async def test_the_version_header_is_honoured() -> None:
    rig = Rig()
    right = rig.request(1.0, 1.0, key="right", mlserver_version="3")
    wrong = rig.request(1.0, 1.0, key="wrong", mlserver_version="2")
    answered = await rig.requests.answer([right, wrong])
    assert [a.key for a in answered.answers] == [b"right"]
    (dead,) = answered.dead_letters
    assert dead.record is wrong and dead.error is not None
    assert dead.error.reason == "no-model"
    assert "has no version '2' loaded (version 3 is)" in str(dead.error)


async def test_requests_that_cannot_be_answered_are_dead_letters_with_reasons() -> None:
    rig = Rig()
    good = rig.request(1.0, 1.0)
    bad = [
        (rig.record(b"\xff{not json", headers=[("mlserver-model", b"sum")]), "decode-error"),
        (rig.request(1.0, 1.0, model="nobody"), "no-model"),
        (rig.record(orjson.loads(good.value or b"")), "invalid-record"),  # no model header
        (
            rig.record(
                {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [1.0]}]},
                headers=[("mlserver-model", b"sum")],
            ),
            "invalid-record",  # the model takes x and y
        ),
    ]
    answered = await rig.requests.answer([good, *(r for r, _ in bad)])
    assert len(answered.answers) == 1
    assert [(o.record, o.error.reason if o.error else None) for o in answered.dead_letters] == bad
    counted = rig.metrics.inference_requests
    assert counted.labels("kafka", "400")._value.get() == 3
    assert counted.labels("kafka", "404")._value.get() == 1


async def test_an_answer_larger_than_an_output_may_be_is_a_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oip_inference, "MAX_ANSWER_BYTES", 50)
    rig = Rig()
    answered = await rig.requests.answer([rig.request(1.0, 1.0)])
    assert reasons(answered) == ["invalid-record"]
    assert "send fewer rows per request" in str(answered.dead_letters[0].error)


class BrokenInference(Inference):
    async def infer(
        self, name: str, version: str | None, request: Any, protocol: str
    ) -> InferResponse:
        if isinstance(request, InferRequest) and request.id == "boom":
            raise TypeError("a bug")
        return await super().infer(name, version, request, protocol)


async def test_a_bug_one_request_reaches_costs_that_request_only() -> None:
    rig = Rig(BrokenInference)
    answered = await rig.requests.answer([rig.request(1.0, 1.0, key="boom"), rig.request(2.0, 2.0)])
    assert reasons(answered) == ["scoring-error"]
    assert "TypeError" in str(answered.dead_letters[0].error)
    assert len(answered.answers) == 1


# -- whatever a record holds ------------------------------------------------------------------

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
