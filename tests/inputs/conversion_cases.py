"""What the conversion tests share: ``build_batch`` with a fresh binder, its errors as their
messages, on either path of the number rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.errors import InvalidRecordError
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch
from service.inputs.schema import InputSchema, InputSpec, TypedBatch

Converted = tuple[TypedBatch, list[int], dict[int, str]]


def convert(
    specs: Sequence[InputSpec],
    rows: Sequence[dict[str, Any]],
    field_map: Mapping[str, str] | None = None,
) -> Converted:
    """``build_batch`` with a fresh binder; the errors as their messages."""
    schema = InputSchema(tuple(specs))
    batch, good, errors = build_batch(list(rows), FieldBinder(schema.names, field_map), schema)
    assert all(isinstance(error, InvalidRecordError) for error in errors.values())
    assert sorted([*good, *errors]) == list(range(len(rows)))
    assert batch.size == len(good)
    return batch, good, {i: str(error) for i, error in errors.items()}


# The number rules on both paths: "fast" is a schema of scalar numbers only, "careful" has a
# string input beside, which sends every batch column by column.
PATHS = ("fast", "careful")


def convert_numbers(spec: InputSpec, values: Sequence[Any], path: str) -> Converted:
    """One row per value, for ``spec`` alone or beside a string input."""
    if path == "fast":
        return convert([spec], [{spec.name: v} for v in values])
    return convert(
        [spec, InputSpec("note", "string")], [{spec.name: v, "note": "n"} for v in values]
    )
