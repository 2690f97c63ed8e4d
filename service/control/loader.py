"""Descriptor → verified artifact bytes → loaded, warmed-up model. Everything slow or
blocking runs in a worker thread, never on the event loop that scores records."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from service.control.artifacts import ArtifactStore
from service.control.descriptor import ModelDescriptor
from service.errors import DescriptorRejectedError, ModelError, ModelLoadError
from service.runtimes.base import AnswerShape, Model
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.runtimes.checks import refusal, row_problems
from service.settings import Settings


@dataclass(frozen=True)
class Loaded:
    """A model ready to serve: the model, its artifact's sha256, and what it answers."""

    model: Model
    sha256: str
    shape: AnswerShape


class Loader:
    def __init__(self, settings: Settings, intra_op_threads: int = 1) -> None:
        self._settings = settings
        self._options = LoadOptions(
            pickle_key=settings.pickle_key,
            intra_op_threads=intra_op_threads,
            pmml_engine=settings.pmml_engine,
        )
        self._store = ArtifactStore(
            settings.allowed_locations, settings.max_artifact_bytes, settings.model_cache_dir
        )

    async def load(self, descriptor: ModelDescriptor) -> Loaded:
        """The loaded, warmed-up model. Raises ModelError subclasses only."""
        try:
            return await asyncio.to_thread(self._load_blocking, descriptor)
        except ModelError:
            raise
        except Exception as exc:  # a runtime's own error type: report it, do not crash
            raise ModelLoadError(f"{type(exc).__name__}: {exc}") from exc

    def _load_blocking(self, descriptor: ModelDescriptor) -> Loaded:
        artifact = self._artifact(descriptor)
        if len(artifact) > self._settings.max_artifact_bytes:
            raise DescriptorRejectedError(
                f"artifact of {len(artifact)} bytes exceeds {self._settings.max_artifact_bytes}"
            )
        digest = descriptor.verify_digest(artifact)
        request = LoadRequest(
            artifact, descriptor.inputs, descriptor.labels, descriptor.signature, self._options
        )
        model = RUNTIMES.get(descriptor.model_type).load(request)
        return Loaded(model, digest, warm_up(model))

    def _artifact(self, descriptor: ModelDescriptor) -> bytes:
        if descriptor.data is not None:
            return descriptor.data
        assert descriptor.location is not None
        return self._store.fetch(descriptor.location, descriptor.sha256)


def warm_up(model: Model) -> AnswerShape:
    """One row through the model before it serves: a model that cannot score, or whose answer
    the checks refuse (NaN or missing probabilities, ones that do not sum to 1), fails here, in
    the loader, and lazy initialisation (JIT, allocations) is not paid by the first batch."""
    try:
        result = model.predict(np.zeros((1, len(model.input_names)), dtype=np.float64))
        # An engine may refuse an all-zero row as invalid input (row_errors); that says nothing
        # of its answers. Answers it gives must pass the checks.
        problems = {i: why for i, why in row_problems(result).items() if i not in result.row_errors}
    except Exception as exc:
        model.close()
        raise ModelLoadError(f"the model failed its warm-up prediction: {exc}") from exc
    if problems:
        model.close()
        why = refusal(model.runtime, problems[min(problems)])
        raise ModelLoadError(f"the model failed its warm-up prediction: {why}")
    return AnswerShape.of(result)
