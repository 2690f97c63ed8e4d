"""Descriptor → verified artifact bytes → loaded, warmed-up model. Everything slow or
blocking runs in a worker thread, never on the event loop that scores records."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from .descriptor import ModelDescriptor, ModelType
from .errors import DescriptorRejectedError, ModelError, ModelLoadError
from .runtimes.base import Model
from .settings import Settings

log = logging.getLogger(__name__)


class Loader:
    def __init__(self, settings: Settings, intra_op_threads: int = 1) -> None:
        self._settings = settings
        self._intra_op_threads = intra_op_threads

    async def load(self, descriptor: ModelDescriptor) -> tuple[Model, str]:
        """The loaded model and its artifact's sha256. Raises ModelError subclasses only."""
        try:
            return await asyncio.to_thread(self._load_blocking, descriptor)
        except ModelError:
            raise
        except Exception as exc:  # a runtime's own error type: report it, do not crash
            raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc

    def _load_blocking(self, descriptor: ModelDescriptor) -> tuple[Model, str]:
        artifact = self._artifact(descriptor)
        if len(artifact) > self._settings.max_artifact_bytes:
            raise DescriptorRejectedError(
                f"artifact of {len(artifact)} bytes exceeds {self._settings.max_artifact_bytes}"
            )
        digest = descriptor.verify_digest(artifact)
        model = self._build(descriptor, artifact)
        _warm_up(model)
        return model, digest

    def _artifact(self, descriptor: ModelDescriptor) -> bytes:
        if descriptor.data is not None:
            return descriptor.data
        assert descriptor.location is not None
        return read_location(
            descriptor.location, self._settings.allowed_locations, self._settings.max_artifact_bytes
        )

    def _build(self, descriptor: ModelDescriptor, artifact: bytes) -> Model:
        if descriptor.model_type is ModelType.ONNX:
            from .runtimes.onnx import OnnxModel

            return OnnxModel(
                artifact,
                descriptor.inputs,
                descriptor.labels,
                intra_op_threads=self._intra_op_threads,
            )
        if descriptor.model_type is ModelType.PMML:
            from .runtimes.pmml import PmmlModel

            return PmmlModel(artifact, descriptor.labels)
        raise DescriptorRejectedError(
            f"{descriptor.model_type.value} models are not accepted by this service"
        )


def _warm_up(model: Model) -> None:
    """One row through the model before it serves: a model that cannot score fails here, in
    the loader, and lazy initialisation (JIT, allocations) is not paid by the first batch."""
    try:
        model.predict(np.zeros((1, len(model.input_names)), dtype=np.float64))
    except Exception as exc:
        model.close()
        raise ModelLoadError(f"the model failed its warm-up prediction: {exc}") from exc


def read_location(location: str, allowed: list[str], max_bytes: int) -> bytes:
    """A ``file://`` artifact under an allowed prefix, after resolving ``..`` and symlinks."""
    if not any(location.startswith(prefix) for prefix in allowed):
        raise DescriptorRejectedError("location is not under an allowed prefix")
    parsed = urlparse(location)
    if parsed.scheme != "file":
        raise DescriptorRejectedError(f"location scheme {parsed.scheme!r} is not supported yet")
    if parsed.netloc not in ("", "localhost"):
        raise DescriptorRejectedError("file:// locations must be local")
    real = Path(os.path.realpath(unquote(parsed.path)))
    roots = [
        Path(os.path.realpath(unquote(urlparse(p).path)))
        for p in allowed
        if urlparse(p).scheme == "file"
    ]
    if not any(real == root or root in real.parents for root in roots):
        raise DescriptorRejectedError("location resolves outside the allowed prefixes")
    try:
        with real.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ModelLoadError(f"cannot read location: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise DescriptorRejectedError(f"artifact exceeds {max_bytes} bytes")
    return data
