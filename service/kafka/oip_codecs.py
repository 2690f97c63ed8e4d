"""The bodies of Open Inference Protocol records on Kafka, by their ``content-type`` header:
MLServer's InferenceRequest JSON (no header, or ``application/json``) answered with an
InferenceResponse JSON. Each codec reads a record's value into the protocol's messages, or
says why not with the dead-letter reason (``decode-error``: not the format at all;
``invalid-record``: the format, but not a request the protocol takes), and writes an answer.
A codec for another content type is one more entry in ``codec_for``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from service.errors import DecodeError, InvalidRecordError
from service.oip.messages import InferRequest, InferResponse, OipError, OutputTensor
from service.oip.rest_codec import request_of, response_body
from service.untrusted import UnreadableJson, loads

JSON_CONTENT_TYPE = "application/json"


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

    def write(self, response: InferResponse) -> bytes: ...


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


JSON = JsonCodec()


def codec_for(content_type: str | None) -> Codec:
    """The codec of a ``content-type`` header's value (parameters such as ``; charset=`` are
    ignored); DecodeError for a type not served."""
    kind = (content_type or JSON_CONTENT_TYPE).split(";")[0].strip().lower()
    if kind == JSON_CONTENT_TYPE:
        return JSON
    raise DecodeError(f"content-type {kind[:64]!r} is not served; {JSON_CONTENT_TYPE} is")
