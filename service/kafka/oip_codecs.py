"""The bodies of Open Inference Protocol records on Kafka, by their ``content-type`` header:
MLServer's InferenceRequest JSON (no header, or ``application/json``) answered with an
InferenceResponse JSON; Seldon Core v2's protobuf ``ModelInferRequest``
(``application/x-protobuf``) answered with a ``ModelInferResponse``. Each codec reads a
record's value into the protocol's messages, or says why not with the dead-letter reason
(``decode-error``: not the format at all; ``invalid-record``: the format, but not a request the
protocol takes), and writes an answer. Another content type is one more entry in
``codec_for``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from google.protobuf.message import DecodeError as ProtobufDecodeError

from service.errors import DecodeError, InvalidRecordError
from service.oip.messages import InferRequest, InferResponse, OipError, OutputTensor
from service.oip.protobuf_codec import request_from_proto, response_to_proto
from service.oip.rest_codec import request_of, response_body
from service.proto import open_inference_grpc_pb2 as pb
from service.untrusted import UnreadableJson, loads

JSON_CONTENT_TYPE = "application/json"
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"


@dataclass(frozen=True)
class BodyRequest:
    """A request as its body says it; ``model`` and ``version`` where the format carries them
    (a JSON InferenceRequest does not: MLServer names the model in a header)."""

    request: InferRequest
    model: str | None = None
    version: str | None = None


class Codec(Protocol):
    # The content-type header of the answers, None for none (MLServer's JSON answers have
    # only their CloudEvents headers).
    answer_content_type: str | None

    def read(self, value: bytes, max_json_depth: int) -> BodyRequest:
        """Raises DecodeError or InvalidRecordError."""
        ...

    def write(self, response: InferResponse) -> bytes:
        """Raises OipError for an answer the format cannot hold."""
        ...


class JsonCodec:
    answer_content_type: str | None = None

    def read(self, value: bytes, max_json_depth: int) -> BodyRequest:
        try:
            document = loads(value, max_json_depth)
        except UnreadableJson as exc:
            raise DecodeError(f"value is {exc}") from None
        if not isinstance(document, dict):
            # As the data topic says it: JSON, but not the object a request is.
            raise DecodeError(f"value is a JSON {type(document).__name__}, not an object")
        try:
            return BodyRequest(request_of(document))
        except OipError as exc:
            raise InvalidRecordError(exc.message) from None

    def write(self, response: InferResponse) -> bytes:
        # A Kafka value is JSON alone: outputs asked for in binary are written as JSON data.
        outputs = [OutputTensor(o.tensor) for o in response.outputs]
        body, _ = response_body(replace(response, outputs=outputs))
        return body


class ProtobufCodec:
    """A ``ModelInferRequest`` names its model and version itself (the headers, when given,
    win); the answer is a ``ModelInferResponse``, its data raw, as gRPC answers."""

    answer_content_type: str | None = PROTOBUF_CONTENT_TYPE

    def read(self, value: bytes, max_json_depth: int) -> BodyRequest:
        try:
            message = pb.ModelInferRequest.FromString(value)
        except ProtobufDecodeError:
            raise DecodeError("value is not a protobuf ModelInferRequest") from None
        try:
            model, version, request = request_from_proto(message)
        except OipError as exc:
            raise InvalidRecordError(exc.message) from None
        return BodyRequest(request, model or None, version)

    def write(self, response: InferResponse) -> bytes:
        return bytes(response_to_proto(response).SerializeToString())


JSON = JsonCodec()
PROTOBUF = ProtobufCodec()


def codec_for(content_type: str | None) -> Codec:
    """The codec of a ``content-type`` header's value (parameters such as ``; charset=`` are
    ignored); DecodeError for a type not served."""
    kind = (content_type or JSON_CONTENT_TYPE).split(";")[0].strip().lower()
    if kind == JSON_CONTENT_TYPE:
        return JSON
    if kind == PROTOBUF_CONTENT_TYPE:
        return PROTOBUF
    raise DecodeError(
        f"content-type {kind[:64]!r} is not served: {JSON_CONTENT_TYPE} or {PROTOBUF_CONTENT_TYPE}"
    )
