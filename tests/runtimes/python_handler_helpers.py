"""What the PYTHON runtime's tests share: a load request for a handler, wine rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.inputs.conversion import typed_batch
from service.inputs.schema import InputSchema, TypedBatch
from service.runtimes.catalog import LoadOptions, LoadRequest
from service.wine import WINE_FIELDS, wine_rows

HANDLERS = "tests.runtimes.handlers"
ALLOWED = (HANDLERS,)


def request(
    handler: str,
    *,
    metadata: Mapping[str, Any] | None = None,
    inputs: Sequence[str] | None = None,
    schema: InputSchema | None = None,
    artifact: bytes | None = None,
    timeout_s: float = 30.0,
    allowed: Sequence[str] = ALLOWED,
) -> LoadRequest:
    return LoadRequest(
        artifact or b"",
        inputs=inputs,
        schema=schema,
        options=LoadOptions(python_handlers=tuple(allowed), python_handler_timeout_s=timeout_s),
        handler=handler,
        metadata=dict(metadata or {}),
        artifact_given=artifact is not None,
    )


def wines(n: int) -> list[dict[str, float]]:
    """The first ``n`` rows of the wine data, features only."""
    rows = []
    for row, _ in zip(wine_rows(), range(n), strict=False):
        rows.append({f: row[f] for f in WINE_FIELDS})
    return rows


def wine_batch(n: int) -> TypedBatch:
    return typed_batch(InputSchema.numeric(WINE_FIELDS), wines(n))


def numbers_batch(rows: Sequence[Sequence[float]], names: Sequence[str] = ("a", "b")) -> TypedBatch:
    schema = InputSchema.numeric(names)
    return typed_batch(schema, [dict(zip(names, row, strict=True)) for row in rows])
