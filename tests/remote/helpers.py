"""Loading REMOTE models in the runtime's tests, and the batches they score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.inputs.schema import TypedBatch
from service.remote.endpoints import EndpointBook
from service.remote.runtime import RemoteModel, load
from service.runtimes.catalog import LoadOptions, LoadRequest


def load_remote(
    url: str,
    *,
    book: EndpointBook | None = None,
    allowed: Sequence[str] | None = None,
    timeout_s: float = 5.0,
    concurrency: int = 4,
    model: str = "wine",
    **fields: Any,
) -> RemoteModel:
    options = LoadOptions(
        allowed_endpoints=tuple(allowed) if allowed is not None else (url,),
        remote_timeout_s=timeout_s,
        remote_concurrency=concurrency,
        endpoints=book,
    )
    request = LoadRequest(
        b"", options=options, endpoint=url, remote_model=model, artifact_given=False, **fields
    )
    return load(request)


def wine_batch(model: RemoteModel, rows: int, seed: int = 0) -> TypedBatch:
    matrix = np.random.default_rng(seed).uniform(0, 10, size=(rows, len(model.input_schema)))
    return TypedBatch.of_matrix(model.input_schema, matrix)
