"""An Open Inference Protocol record on Kafka as MLServer reads and writes it
(mlserver/kafka/handlers.py, mlserver/cloudevents.py): the model in header ``mlserver-model``
(its version, optionally, in ``mlserver-version``; a protobuf request may name both itself),
the request id from the key when there is one, else from the body; the answer keyed by the
request id with MLServer's CloudEvents headers. Pure: no Kafka client, no model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.errors import DecodeError, InvalidRecordError
from service.kafka.oip_codecs import Codec, codec_for
from service.oip.messages import InferRequest, InferResponse
from service.scoring.records import MAX_ID_CHARS, SourceRecord, source_of

MODEL_HEADER = "mlserver-model"
VERSION_HEADER = "mlserver-version"
CONTENT_TYPE_HEADER = "content-type"
# What MLServer sends: CloudEvents 0.3, the type of an inference response.
CLOUDEVENTS_SPEC_VERSION = "0.3"
CLOUDEVENTS_RESPONSE_TYPE = "io.seldon.serving.inference.response"
# Where MLServer (running in Kubernetes) finds the namespace it names in its answers.
KUBERNETES_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class OipCall:
    """What a record asks: ``model`` (and ``version``) to answer ``request``, whose ``id`` is
    the request id the answer is keyed by; ``codec`` writes the answer as the request came."""

    model: str
    version: str | None
    request: InferRequest
    codec: Codec

    @property
    def request_id(self) -> str:
        assert self.request.id is not None  # read_call always gives one
        return self.request.id


def read_call(record: SourceRecord, max_json_depth: int) -> OipCall:
    """The record's call; raises DecodeError or InvalidRecordError (its dead letter's reason)."""
    codec = codec_for(_header(record, CONTENT_TYPE_HEADER))
    if record.value is None:
        raise DecodeError("record has no value")
    body = codec.read(record.value, max_json_depth)
    model = _header(record, MODEL_HEADER) or body.model
    if not model:
        raise InvalidRecordError(f"no {MODEL_HEADER} header names the model")
    version = _header(record, VERSION_HEADER) or body.version or None
    request = body.request
    request.id = _request_id(record, request.id)
    return OipCall(model, version, request, codec)


def _header(record: SourceRecord, name: str) -> str | None:
    """The header's last value (as a dict of them, MLServer's reading, keeps), as text."""
    for key, raw in reversed(record.headers):
        if key == name and raw is not None:
            try:
                return bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRecordError(f"header {name!r} is not UTF-8 text") from None
    return None


def _request_id(record: SourceRecord, body_id: str | None) -> str:
    """The key when there is one (MLServer: the key takes precedence over the body's id),
    else the body's id, else where the record is (``topic/partition/offset``): a request read
    twice (delivery is at-least-once) gets the same id both times. Bounded, since the answer
    repeats it in its key and two headers."""
    if record.key:
        try:
            request_id = bytes(record.key).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecordError("the key is not UTF-8 text: it is the request id") from None
        where = "the key"
    elif body_id is not None:
        request_id, where = body_id, "the request's id"
    else:
        return source_of(record)
    if len(request_id) > MAX_ID_CHARS:
        raise InvalidRecordError(f"{where} is longer than {MAX_ID_CHARS} characters")
    return request_id


def cloud_event_headers(
    response: InferResponse, server_name: str, namespace: str | None = None
) -> Headers:
    """MLServer's CloudEvents headers of an answer, in its order (cloudevents.py)."""
    source = f"io.seldon.serving.deployment.{server_name}"
    if namespace:
        source = f"{source}.{namespace}"
    headers = [
        ("Ce-Specversion", CLOUDEVENTS_SPEC_VERSION),
        ("Ce-Source", source),
        ("Ce-Type", CLOUDEVENTS_RESPONSE_TYPE),
        ("Ce-Modelid", response.model_name),
        ("Ce-Inferenceservicename", server_name),
        ("Ce-Endpoint", response.model_name),
    ]
    if response.id:
        headers += [("Ce-Id", response.id), ("Ce-Requestid", response.id)]
    if namespace:
        headers.append(("Ce-Namespace", namespace))
    return [(name, value.encode()) for name, value in headers]


def kubernetes_namespace(path: Path = KUBERNETES_NAMESPACE_FILE) -> str | None:
    """The namespace of the pod this runs in, None outside Kubernetes."""
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
