"""REMOTE models: a model on another server, called over the Open Inference Protocol (REST
for ``http(s)://``, gRPC for ``grpc://``), one request per batch. Its inputs come from the
server's metadata (remote_inputs.py), its answers become results (remote_answers.py), and its
endpoint's connection, call slots and breaker are shared with every model there
(remote_endpoints.py). ``predict`` raises ModelUnavailableError when the server does not
answer (the engine holds the records and tries again: never a dead letter) and ScoringError
with the server's message when it refuses the batch (its rows are then tried one by one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from service.control.artifacts import has_dot_segments, is_allowed
from service.errors import (
    DescriptorRejectedError,
    ModelLoadError,
    ModelUnavailableError,
    ScoringError,
)
from service.inputs.schema import InputSchema, TypedBatch
from service.inputs.tensor_layout import TensorInput
from service.oip.datatypes import datatype_of
from service.oip.messages import InferRequest, RequestedOutput, Tensor
from service.remote.answers import result_of
from service.remote.calls import CallRefused
from service.remote.endpoints import Endpoint, EndpointBook
from service.remote.inputs import remote_inputs
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.catalog import LoadRequest
from service.runtimes.tensorflow_inputs import Feed, tensor_layout

ALLOWED_VARIABLE = "MODELSERVE_ALLOWED_ENDPOINTS"


def load(request: LoadRequest) -> RemoteModel:
    options = request.options
    url = checked_endpoint(request.endpoint, options.allowed_endpoints)
    if not request.remote_model:
        raise DescriptorRejectedError("a REMOTE model names its model on the server: remoteModel")
    output_map = dict(request.output_map or {})
    pairs = {"label", "probabilities"} <= output_map.keys()
    if pairs and "classes" not in output_map and not request.labels:
        raise DescriptorRejectedError(
            "outputs maps a label and probabilities but no classes: the descriptor must "
            "list the probabilities' classes in `labels`, in column order"
        )
    private = options.endpoints is None  # a model loaded alone (tests) keeps its own book
    book: EndpointBook = EndpointBook() if private else options.endpoints
    endpoint = book.acquire(url, options.remote_timeout_s, options.remote_concurrency)
    try:
        return RemoteModel(
            endpoint,
            book,
            request.remote_model,
            request.remote_version,
            inputs=request.inputs,
            labels=request.labels,
            declared=request.schema,
            output_map=output_map,
            private_book=private,
        )
    except BaseException:
        book.release(endpoint)
        if private:
            book.close()
        raise


def checked_endpoint(endpoint: str | None, allowed: Sequence[str]) -> str:
    """The endpoint as the book keys it (no trailing slash), when the allow-list allows it:
    refused before any connection is made."""
    if not endpoint:
        raise DescriptorRejectedError("a REMOTE model names its server: endpoint")
    if not is_allowed(endpoint, list(allowed)):
        raise DescriptorRejectedError(
            f"endpoint {endpoint!r} is not under a prefix of {ALLOWED_VARIABLE}"
            + (" (empty: no endpoint is allowed)" if not allowed else "")
        )
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https", "grpc") or not parsed.hostname:
        raise DescriptorRejectedError(
            f"endpoint {endpoint!r} is not http(s):// or grpc://host:port"
        )
    if "@" in parsed.netloc or has_dot_segments(endpoint) or parsed.query or parsed.fragment:
        raise DescriptorRejectedError(
            f"endpoint {endpoint!r} has credentials, '.' or '..' segments, a query or a fragment"
        )
    if parsed.scheme == "grpc" and parsed.path not in ("", "/"):
        raise DescriptorRejectedError(f"a gRPC endpoint is grpc://host:port, not {endpoint!r}")
    try:
        parsed.port  # noqa: B018 - a port that is not a number raises here, not at the call
    except ValueError:
        raise DescriptorRejectedError(f"endpoint {endpoint!r} has no valid port") from None
    return endpoint.rstrip("/")


class RemoteModel:
    """A model on another server: each ``predict`` one call to it for the whole batch."""

    # A network call: never on the event loop (scoring/model_calls.py), however short the
    # per-row time of a large batch made its last calls look.
    runs_inline = False

    def __init__(
        self,
        endpoint: Endpoint,
        book: EndpointBook,
        model: str,
        version: str | None,
        *,
        inputs: Sequence[str] | None,
        labels: Sequence[str] | None,
        declared: InputSchema | None,
        output_map: Mapping[str, str],
        private_book: bool = False,
    ) -> None:
        self._endpoint = endpoint
        self._book = book
        self._model = model
        self._version = version
        self._labels = list(labels) if labels else None
        self._output_map = dict(output_map)
        self._private_book = private_book
        self._closed = False
        where = f"{model!r}" + (f" version {version!r}" if version else "")
        try:
            metadata = endpoint.call(lambda t: t.metadata(model, version), "metadata")
            ready = endpoint.call(lambda t: t.ready(model, version), "readiness")
        except CallRefused as exc:
            raise ModelLoadError(
                f"{endpoint.url} does not serve the model {where}: {exc}"
            ) from None
        except ModelUnavailableError as exc:
            raise ModelLoadError(f"{endpoint.url} is unavailable: {exc}") from None
        if not ready:
            raise ModelLoadError(f"the model {where} is not ready at {endpoint.url}")
        self._platform = metadata.platform
        self._schema, self._feeds = remote_inputs(metadata.inputs, inputs, declared)
        # Asked by name when the descriptor maps them: MLServer's scikit-learn runtime answers
        # ``predict`` only, unless a request lists ``predict_proba``.
        names = list(dict.fromkeys(self._output_map.values()))
        self._outputs = [RequestedOutput(n) for n in names] if names else None

    @property
    def runtime(self) -> RuntimeInfo:
        version = f" version {self._version}" if self._version else ""
        return RuntimeInfo("remote", f"{self._model}{version} at {self._endpoint.url}")

    @property
    def input_schema(self) -> InputSchema:
        return self._schema

    @property
    def tensor_inputs(self) -> tuple[TensorInput, ...]:
        """The server's own tensors: OIP clients of modelserve send what it takes."""
        return tensor_layout(self._schema, self._feeds)

    @property
    def endpoint_url(self) -> str:
        return self._endpoint.url

    def endpoint_state(self) -> dict[str, Any]:
        """{"url", "state": "up" | "down", "since", "lastError"}: /models shows it."""
        return self._endpoint.document()

    def predict(self, batch: TypedBatch) -> BatchResult:
        request = InferRequest(
            [_tensor(feed, batch) for feed in self._feeds], outputs=self._outputs
        )
        model, version = self._model, self._version

        try:
            response = self._endpoint.call(lambda t: t.infer(model, version, request), "infer")
        except CallRefused as exc:
            raise ScoringError(f"{self._endpoint.url} refused the batch: {exc}") from None
        outputs = [o.tensor for o in response.outputs]
        try:
            return result_of(outputs, batch.size, self._output_map or None, self._labels)
        except (ValueError, TypeError, IndexError) as exc:
            # An answer of odd shapes (no columns, say) is the server's, not a bug here.
            raise ScoringError(f"{self._endpoint.url} answered unusably: {exc}") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._book.release(self._endpoint)
        if self._private_book:
            self._book.close()


def _tensor(feed: Feed, batch: TypedBatch) -> Tensor:
    try:
        array = feed.array(batch)
    except (ValueError, TypeError) as exc:  # a number the server's type cannot hold
        raise ScoringError(str(exc)) from None
    return Tensor(feed.name, datatype_of(array.dtype), tuple(array.shape), array)
