"""What a call to a remote model's server can end in, as both transports (remote_rest.py,
remote_grpc.py) say it, and what a transport does: the endpoint's breaker (remote_endpoints.py)
counts failures, never refusals, and the model (remote.py) turns each into the engine's
errors."""

from __future__ import annotations

from typing import Protocol

from service.oip.messages import InferRequest, InferResponse, ModelMetadata

# The JSON nesting a server's answer may have: a tensor's data nests as deep as its rank.
MAX_ANSWER_DEPTH = 64
# The largest answer (or gRPC message) read from a server: a batch's tensors, with room.
MAX_ANSWER_BYTES = 256 << 20


class CallFailed(Exception):
    """The server did not answer the call: unreachable, failing (5xx), too slow, or the model
    not (yet) there. Not the request's fault: the records wait and the call is tried again."""


class CallRefused(Exception):
    """The server answered, refusing the request (4xx) or with an answer that is not one:
    the request's fault (or the server's), not its availability's."""

    def __init__(self, message: str, outcome: str = "refused") -> None:
        super().__init__(message)
        self.outcome = outcome  # the metric's: refused, or bad_answer


class Transport(Protocol):
    """One endpoint's connection (an HTTP client, a gRPC channel), shared by its models and
    safe to use from several threads at once."""

    def metadata(self, model: str, version: str | None) -> ModelMetadata:
        """The model's metadata; CallRefused when the server does not know it."""
        ...

    def ready(self, model: str, version: str | None) -> bool:
        """Whether the model is there and ready (not known: False)."""
        ...

    def infer(self, model: str, version: str | None, request: InferRequest) -> InferResponse:
        """One call. A refusal (4xx) is CallRefused only when the model is ready there: a
        server that refuses while it loads the model (MLServer answers 400 then) is not
        available yet, and CallFailed says so."""
        ...

    def close(self) -> None: ...
