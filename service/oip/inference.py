"""The Open Inference Protocol over the service's models, once for every transport (REST in
http/, gRPC in grpc/, Kafka in kafka/): find a model by name (and version), say its metadata
and readiness, and answer an inference request through the one core call,
``Engine.score_batch``, with concurrent requests for a model scored together (batching.py).
A transport decodes its request into ``messages`` and encodes what comes back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from service.errors import ModelUnavailableError
from service.metrics import Metrics
from service.oip.batching import RequestBatcher
from service.oip.messages import (
    InferRequest,
    InferResponse,
    ModelLoadingError,
    ModelMetadata,
    OipError,
)
from service.oip.model_io import answer_tensors, bind, metadata, output_metadata
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.serving.model import ServingModel

log = logging.getLogger(__name__)

SERVER_NAME = "modelserve"
# The protocol's extensions served: Triton's binary tensor data.
EXTENSIONS = ("binary_tensor_data",)


class Inference:
    def __init__(
        self,
        registry: Registry,
        engine: Engine,
        metrics: Metrics,
        max_batch_rows: int,
        live: Callable[[], bool],
        ready: Callable[[], bool],
        version: str,
        replayed: Callable[[], bool] = lambda: True,
    ) -> None:
        """``replayed``: whether the control topic's models, replayed at start, are all in
        (until then a name not seen may be one of them)."""
        self._registry = registry
        self._metrics = metrics
        self._batcher = RequestBatcher(
            # Counted under the dataType the model serves, as the stream counts it.
            lambda serving, batch: engine.score_batch(serving, batch, serving.descriptor.data_type),
            max_batch_rows,
        )
        self.live = live
        self.ready = ready
        self.server_version = version
        self._replayed = replayed

    def find(self, name: str, version: str | None = None) -> ServingModel:
        """The model loaded under the name (serving or standing by), and, when a version is
        given, only if that is the version loaded; else a 404 that says what is, or a 503
        (ModelLoadingError) for a model or version still loading."""
        entry = self._registry.entry(name)
        serving = entry.serving if entry is not None else None
        if serving is not None and (version is None or version == str(serving.version)):
            return serving
        # Nothing answers the request: why, read off the history only now (off the hot path).
        loading = [] if entry is None else [v for v in entry.versions if v.status == "loading"]
        if version is not None and any(str(v.version) == version for v in loading):
            # Published and on its way: not ready yet, as the protocol says it (a client may
            # try again), rather than unknown.
            raise ModelLoadingError(f"model {name!r} version {version} is loading")
        if serving is None:
            if loading and version is None:
                raise ModelLoadingError(f"model {name!r} is loading")
            if entry is None and not self._replayed():
                # At start the control topic's replay loads models without a history entry
                # until each is installed: a name unknown now may be one of them.
                raise ModelLoadingError(
                    f"model {name!r} is not loaded: the service is still loading its models"
                )
            known = entry is not None and entry.versions
            why = "is not loaded" if known else "is unknown"
            raise OipError(404, f"model {name!r} {why}")
        raise OipError(
            404,
            f"model {name!r} has no version {version!r} loaded (version {serving.version} is)",
        )

    def metadata(self, name: str, version: str | None = None) -> ModelMetadata:
        return metadata(self.find(name, version))

    def model_ready(self, name: str, version: str | None = None) -> bool:
        """Whether the model answers now; an unknown model is a 404 (OipError)."""
        try:
            self.find(name, version)
        except OipError as exc:
            entry = self._registry.entry(name)
            if exc.status == 404 and (entry is None or not entry.versions):
                raise
            return False  # known, or loading: not ready
        return True

    async def infer(
        self,
        name: str,
        version: str | None,
        request: InferRequest | Callable[[], InferRequest],
        protocol: str,
    ) -> InferResponse:
        """The answer, or an OipError with its status; counted per transport, from when the
        request is read (``request`` may be its decoder, so that a request refused as it is
        read counts too)."""
        started = time.perf_counter()
        try:
            response = await self._infer(name, version, request() if callable(request) else request)
        except OipError as exc:
            self._metrics.record_inference(protocol, str(exc.status), time.perf_counter() - started)
            raise
        except ModelUnavailableError as exc:
            # A remote model's server that does not answer: this service is unavailable for
            # that model now, as the protocol says it (503), and the client may try again.
            self._metrics.record_inference(protocol, "503", time.perf_counter() - started)
            raise OipError(503, str(exc)) from exc
        except Exception as exc:
            # A bug one request reaches costs that request a 500 that says so, never the
            # transport's loop, and never a traceback to the client.
            log.exception("an inference request for %r failed", name)
            self._metrics.record_inference(protocol, "500", time.perf_counter() - started)
            raise OipError(500, f"the service could not answer: {type(exc).__name__}") from exc
        self._metrics.record_inference(protocol, "ok", time.perf_counter() - started)
        return response

    async def _infer(self, name: str, version: str | None, request: InferRequest) -> InferResponse:
        serving = self.find(name, version)
        _check_outputs(serving, request)
        batch = bind(serving, request.inputs)
        result = await self._batcher.answer(serving, batch)
        outputs = answer_tensors(result, request.outputs, request.binary_outputs)
        return InferResponse(serving.name, str(serving.version), outputs, request.id)


def _check_outputs(serving: ServingModel, request: InferRequest) -> None:
    """Outputs the model does not answer are refused before it scores."""
    if request.outputs is None or serving.shape is None:
        return
    known: Sequence[str] = [t.name for t in output_metadata(serving)]
    for want in request.outputs:
        if want.name not in known:
            raise OipError(400, f"unknown output {want.name!r}: the model answers {list(known)}")
