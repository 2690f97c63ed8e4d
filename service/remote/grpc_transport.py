"""A remote model's server over the Open Inference Protocol's gRPC API: one channel per
endpoint (``grpc.insecure_channel``: HTTP/2, its connection reused by every call), its
reconnection backoff kept short so that a server back after a crash is used within seconds,
not the minutes gRPC's default backoff may wait."""

from __future__ import annotations

from typing import Any

import grpc

from service.errors import sanitise
from service.oip.messages import InferRequest, InferResponse, ModelMetadata, OipError
from service.oip.protobuf_codec import metadata_from_proto, request_to_proto, response_from_proto
from service.proto import open_inference_grpc_pb2 as pb
from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from service.remote.calls import MAX_ANSWER_BYTES, CallFailed, CallRefused

# The status codes that are the request's fault, as REST's 4xx are; any other (UNAVAILABLE,
# DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, RESOURCE_EXHAUSTED...) is the server's state.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_ANSWER_BYTES),
    ("grpc.max_send_message_length", MAX_ANSWER_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class GrpcTransport:
    def __init__(self, target: str, timeout_s: float) -> None:
        self._target = target
        self._timeout_s = timeout_s
        self._channel = grpc.insecure_channel(target, options=_OPTIONS)
        self._stub: Any = GRPCInferenceServiceStub(self._channel)

    def metadata(self, model: str, version: str | None) -> ModelMetadata:
        request = pb.ModelMetadataRequest(name=model, version=version or "")
        # NOT_FOUND: an answer here (no such model), not the server's state.
        answer = self._call(
            self._stub.ModelMetadata, request, "ModelMetadata", {grpc.StatusCode.NOT_FOUND}
        )
        return metadata_from_proto(answer)

    def ready(self, model: str, version: str | None) -> bool:
        request = pb.ModelReadyRequest(name=model, version=version or "")
        try:
            return bool(self._call(self._stub.ModelReady, request, "ModelReady").ready)
        except CallRefused:
            return False

    def infer(self, model: str, version: str | None, request: InferRequest) -> InferResponse:
        message = request_to_proto(model, version, request)
        try:
            answer = self._call(self._stub.ModelInfer, message, "ModelInfer")
        except CallRefused as exc:
            if not self.ready(model, version):
                raise CallFailed(f"the model is not ready there ({exc})") from None
            raise
        try:
            return response_from_proto(answer)
        except OipError as exc:
            raise CallRefused(f"the server's answer: {exc}", "bad_answer") from None

    def close(self) -> None:
        self._channel.close()

    def _call(
        self,
        method: Any,
        request: Any,
        name: str,
        refusals: frozenset[Any] | set[Any] = frozenset(),
    ) -> Any:
        try:
            return method(request, timeout=self._timeout_s)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            text = f"{name} answered {code.name}: {sanitise(details or '(no message)')}"
            if code in _REFUSALS or code in refusals:
                raise CallRefused(text) from None
            # NOT_FOUND too: the model not (yet) there is its server's state, not the batch's.
            raise CallFailed(text) from None
