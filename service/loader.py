"""Descriptor → verified artifact bytes → loaded, warmed-up model. Everything slow or
blocking runs in a worker thread, never on the event loop that scores records."""

from __future__ import annotations

import asyncio

import numpy as np

from .artifacts import ArtifactStore
from .descriptor import ModelDescriptor, ModelType
from .errors import DescriptorRejectedError, ModelError, ModelLoadError
from .runtimes.base import Model
from .settings import Settings


class Loader:
    def __init__(self, settings: Settings, intra_op_threads: int = 1) -> None:
        self._settings = settings
        self._intra_op_threads = intra_op_threads
        self._store = ArtifactStore(
            settings.allowed_locations, settings.max_artifact_bytes, settings.model_cache_dir
        )

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
        return self._store.fetch(descriptor.location, descriptor.sha256)

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
        from .runtimes.pickle import PickleModel

        return PickleModel.load(
            artifact,
            descriptor.signature,
            self._settings.pickle_key,
            descriptor.inputs,
            descriptor.labels,
        )


def _warm_up(model: Model) -> None:
    """One row through the model before it serves: a model that cannot score fails here, in
    the loader, and lazy initialisation (JIT, allocations) is not paid by the first batch."""
    try:
        model.predict(np.zeros((1, len(model.input_names)), dtype=np.float64))
    except Exception as exc:
        model.close()
        raise ModelLoadError(f"the model failed its warm-up prediction: {exc}") from exc
