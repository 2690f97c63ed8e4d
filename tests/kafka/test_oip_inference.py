"""Open Inference Protocol requests from Kafka answered through the real Inference, engine and
batcher, over a counting model (no broker): answers keyed by request id with their CloudEvents
headers, in JSON or protobuf, a batch's requests in one model call, the version header
honoured, and every request that cannot be answered a dead letter with its reason (arbitrary
records: test_oip_inference_poison.py)."""

from __future__ import annotations

import struct
from typing import Any

import orjson
import pytest

from service.kafka import oip_inference
from service.oip.inference import Inference
from service.oip.messages import InferRequest, InferResponse
from service.proto import open_inference_grpc_pb2 as pb

from .oip_rig import Rig, reasons


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
