"""``inference.GRPCInferenceService`` over ``oip.inference.Inference``: health, server and
model metadata, model readiness and inference, each request decoded and each answer encoded
by ``oip.protobuf_codec``.

Every RPC reads its request's bytes itself rather than through grpcio's deserializer, so that
bytes that are not the message are INVALID_ARGUMENT with a reason (grpcio would answer
INTERNAL). An ``OipError`` ends the call with the status code of its HTTP status and its
message as the details; anything else is logged and ends it INTERNAL, never as an unhandled
exception."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from service.oip.inference import EXTENSIONS, SERVER_NAME, Inference
from service.oip.messages import InferRequest, OipError
from service.oip.protobuf_codec import (
    metadata_to_proto,
    parse,
    request_from_proto,
    response_to_proto,
)
from service.proto import open_inference_grpc_pb2 as pb

log = logging.getLogger(__name__)

SERVICE = "inference.GRPCInferenceService"

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


def status_code(status: int) -> Any:
    """The gRPC status code of an OipError's HTTP status (another 4xx: INVALID_ARGUMENT,
    anything else: INTERNAL)."""
    fallback = grpc.StatusCode.INVALID_ARGUMENT if 400 <= status < 500 else grpc.StatusCode.INTERNAL
    return STATUS_CODES.get(status, fallback)


class InferenceServicer:
    """The six RPCs, each from its request's bytes to its answer's message."""

    def __init__(self, inference: Inference) -> None:
        self._inference = inference

    async def server_live(self, raw: bytes) -> Any:
        parse(pb.ServerLiveRequest, raw)
        return pb.ServerLiveResponse(live=self._inference.live())

    async def server_ready(self, raw: bytes) -> Any:
        parse(pb.ServerReadyRequest, raw)
        return pb.ServerReadyResponse(ready=self._inference.ready())

    async def server_metadata(self, raw: bytes) -> Any:
        parse(pb.ServerMetadataRequest, raw)
        return pb.ServerMetadataResponse(
            name=SERVER_NAME, version=self._inference.server_version, extensions=EXTENSIONS
        )

    async def model_ready(self, raw: bytes) -> Any:
        name, version = _model(parse(pb.ModelReadyRequest, raw))
        try:
            ready = self._inference.model_ready(name, version)
        except OipError as exc:
            if exc.status != 404:
                raise
            # An unknown model is simply not ready here, as Triton answers it:
            # tritonclient.grpc's is_model_ready returns False instead of raising.
            ready = False
        return pb.ModelReadyResponse(ready=ready)

    async def model_metadata(self, raw: bytes) -> Any:
        name, version = _model(parse(pb.ModelMetadataRequest, raw))
        return metadata_to_proto(self._inference.metadata(name, version))

    async def model_infer(self, raw: bytes) -> Any:
        # The model's name is needed before the tensors are decoded; bytes that are not a
        # request still go through ``infer`` (as its decoder, which raises), so that a
        # request refused as it is read is counted like any other.
        try:
            message = parse(pb.ModelInferRequest, raw)
        except OipError:
            message = None

        def decode() -> InferRequest:
            name, _, request = request_from_proto(raw if message is None else message)
            if not name:
                raise OipError(400, "the request names no model")
            return request

        name = message.model_name if message is not None else ""
        version = (message.model_version or None) if message is not None else None
        answer = await self._inference.infer(name, version, decode, "grpc")
        return response_to_proto(answer)


def _model(message: Any) -> tuple[str, str | None]:
    if not message.name:
        raise OipError(400, "the request names no model")
    return message.name, message.version or None


def method_handlers(servicer: InferenceServicer) -> dict[str, Any]:
    """grpcio's handlers of the service's methods, by name: bytes in, bytes out."""
    rpcs: dict[str, Callable[[bytes], Awaitable[Any]]] = {
        "ServerLive": servicer.server_live,
        "ServerReady": servicer.server_ready,
        "ModelReady": servicer.model_ready,
        "ServerMetadata": servicer.server_metadata,
        "ModelMetadata": servicer.model_metadata,
        "ModelInfer": servicer.model_infer,
    }
    return {
        method: grpc.unary_unary_rpc_method_handler(_answering(method, rpc))
        for method, rpc in rpcs.items()
    }


def _answering(
    method: str, rpc: Callable[[bytes], Awaitable[Any]]
) -> Callable[[bytes, Any], Awaitable[bytes]]:
    async def call(raw: bytes, context: Any) -> bytes:
        try:
            answer = await rpc(raw)
            serialized: bytes = answer.SerializeToString()
            return serialized
        except OipError as exc:
            code, details = status_code(exc.status), exc.message
        except Exception as exc:  # never grpcio's: the client gets a status that says little
            log.exception("gRPC %s failed", method)
            code, details = grpc.StatusCode.INTERNAL, f"the service failed: {type(exc).__name__}"
        await context.abort(code, details)
        raise AssertionError("ServicerContext.abort returned")  # it raises, always

    return call
