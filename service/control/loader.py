"""Descriptor → verified artifact bytes → loaded, warmed-up model. Everything slow or
blocking runs in a worker thread, never on the event loop that scores records."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from service.control.artifacts import ArtifactStore
from service.errors import DescriptorRejectedError, ModelError, ModelLoadError
from service.inputs.conversion import typed_batch
from service.inputs.schema import InputSchema
from service.runtimes.base import AnswerShape, Model
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.runtimes.checks import refusal, row_problems
from service.runtimes.python_handler import handler_allowed
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings


@dataclass(frozen=True)
class Loaded:
    """A model ready to serve: the model, its artifact's sha256, and what it answers."""

    model: Model
    sha256: str
    shape: AnswerShape


class Loader:
    def __init__(
        self, settings: Settings, intra_op_threads: int = 1, endpoints: Any = None
    ) -> None:
        """``endpoints``: the process's remote endpoints (remote/endpoints.py)."""
        self._settings = settings
        self._options = LoadOptions(
            pickle_key=settings.pickle_key,
            intra_op_threads=intra_op_threads,
            pmml_engine=settings.pmml_engine,
            python_handlers=tuple(settings.python_handlers),
            python_handler_timeout_s=settings.python_handler_timeout_s,
            h2o_genmodel_jar=settings.h2o_genmodel_jar,
            allowed_endpoints=tuple(settings.allowed_endpoints),
            remote_timeout_s=settings.remote_timeout_ms / 1000.0,
            remote_concurrency=settings.remote_concurrency,
            endpoints=endpoints,
        )
        self._store = ArtifactStore(
            settings.allowed_locations,
            settings.max_artifact_bytes,
            settings.model_cache_dir,
            settings.trusted_locations,
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
        if descriptor.handler is not None:
            # Refused before anything is fetched, imported or run.
            why = handler_allowed(descriptor.handler, self._options.python_handlers)
            if why is not None:
                raise DescriptorRejectedError(why)
        artifact = self._artifact(descriptor)
        if len(artifact) > self._settings.max_artifact_bytes:
            raise DescriptorRejectedError(
                f"artifact of {len(artifact)} bytes exceeds {self._settings.max_artifact_bytes}"
            )
        digest = descriptor.verify_digest(artifact)
        declared = descriptor.declared_schema()
        request = LoadRequest(
            artifact,
            descriptor.input_names(),
            descriptor.labels,
            descriptor.signature,
            self._options,
            declared,
            outputs=descriptor.outputs if isinstance(descriptor.outputs, list) else None,
            output_map=(
                {str(k): v for k, v in descriptor.outputs.items()}
                if isinstance(descriptor.outputs, dict)
                else None
            ),
            endpoint=descriptor.endpoint,
            remote_model=descriptor.remote_model,
            remote_version=descriptor.remote_version,
            signature_name=descriptor.signature_name,
            handler=descriptor.handler,
            metadata=descriptor.metadata,
            artifact_given=descriptor.data is not None or descriptor.location is not None,
        )
        model = RUNTIMES.get(descriptor.model_type).load(request)
        if declared is not None:
            disagreement = schema_disagreement(declared, model.input_schema)
            if disagreement is not None:
                model.close()
                raise ModelLoadError(disagreement)
        return Loaded(model, digest, warm_up(model))

    def _artifact(self, descriptor: ModelDescriptor) -> bytes:
        if descriptor.data is not None:
            return descriptor.data
        if descriptor.location is None:  # a PYTHON model without data
            return b""
        return self._store.fetch(descriptor.location, descriptor.sha256)


def schema_disagreement(declared: InputSchema, model: InputSchema) -> str | None:
    """Why the descriptor's ``schema`` contradicts what the model says of its inputs (names,
    text or number, shape), or None. The model's own word is more precise (float or double)
    and is the one kept."""
    if declared.names != model.names:
        return f"the descriptor's schema names {declared.names}, the model takes {model.names}"
    for said, actual in zip(declared.inputs, model.inputs, strict=True):
        if (said.type == "string") != (actual.type == "string") or said.shape != actual.shape:
            return (
                f"the descriptor's schema says {said.name!r} is {said.type} "
                f"{list(said.shape)}, the model takes {actual.type} {list(actual.shape)}"
            )
    return None


def warm_up(model: Model) -> AnswerShape:
    """One row through the model before it serves, built from its input schema (a string for
    a string input, a tensor of its shape): a model the service cannot feed, or whose answer
    the checks refuse (NaN or missing probabilities, ones that do not sum to 1), fails here, in
    the loader, not on every record; and lazy initialisation (JIT, allocations) is not paid by
    the first batch."""
    try:
        schema = model.input_schema
        result = model.predict(typed_batch(schema, [schema.example_row()]))
        # An engine may refuse the example row as invalid input (row_errors); that says nothing
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
