"""The control codec: one control-topic record (JSON, or protobuf by its content-type) read
into a ModelDescriptor (serving/descriptor.py), within the bounds of a control record, and
checked against the record's key. Every refusal is a DescriptorRejectedError whose message is
sanitised and never echoes the (possibly huge) input."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.errors import DescriptorRejectedError, sanitise
from service.protobuf import (
    UnreadableProtobuf,
    descriptor_document,
    is_protobuf,
    looks_like_protobuf,
)
from service.serving.descriptor import ModelDescriptor
from service.untrusted import (
    DEFAULT_MAX_JSON_DEPTH,
    UnreadableJson,
    field_names,
    loads,
    nested_deeper,
    preview,
    unknown_keys,
)


@dataclass(frozen=True)
class ControlLimits:
    """The bounds of a control record: its size, and how deep its JSON may nest."""

    max_bytes: int = 64 * 1024 * 1024
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH


# Field names and their camelCase aliases: what a descriptor may hold.
_FIELD_NAMES = field_names(ModelDescriptor)


def header_value(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    """The last value of a Kafka header, decoded; None when absent or not UTF-8."""
    for key, raw in reversed(headers):
        if key.lower() == name:
            try:
                return raw.decode("utf-8") if raw is not None else None
            except UnicodeDecodeError:
                return None
    return None


def parse_descriptor(
    key: bytes | None,
    value: bytes,
    headers: Sequence[tuple[str, bytes]] = (),
    limits: ControlLimits = ControlLimits(),  # frozen: one shared default is safe
) -> ModelDescriptor:
    """Decode and validate one control record. Raises DescriptorRejectedError with a
    sanitised, user-facing message on anything wrong."""
    max_bytes, max_depth = limits.max_bytes, limits.max_json_depth
    if len(value) > max_bytes:
        raise DescriptorRejectedError(f"descriptor of {len(value)} bytes exceeds {max_bytes}")
    content_type = header_value(headers, "content-type")
    doc = None
    if is_protobuf(content_type):
        doc = descriptor_document(value)
    elif content_type is None and looks_like_protobuf(value) and not _is_json(value, max_depth):
        # Lightbend's client sends descriptors with no key and no headers. Bytes that are not
        # protobuf either are refused as what they most likely are meant to be: not JSON.
        with suppress(UnreadableProtobuf):
            doc = descriptor_document(value)
    if doc is not None:
        if nested_deeper(doc.get("metadata"), max_depth - 1):
            raise DescriptorRejectedError(f"metadata is nested deeper than {max_depth} levels")
    else:
        try:
            doc = loads(value, max_depth)
        except UnreadableJson as exc:
            raise DescriptorRejectedError(f"descriptor is {exc}") from None
        if not isinstance(doc, dict):
            raise DescriptorRejectedError("descriptor must be a JSON object")
    descriptor = validate_descriptor(doc)
    if key is not None:
        key_text = key.decode("utf-8", errors="replace")
        if key_text != descriptor.name:
            raise DescriptorRejectedError(
                f"record key {preview(key_text, 140)} differs from descriptor name "
                f"{descriptor.name!r}"
            )
    return descriptor


def _is_json(value: bytes, max_depth: int) -> bool:
    """JSON of any kind (a number's digits can also parse as protobuf): then it is refused
    as JSON that is not an object, never read as a descriptor."""
    try:
        loads(value, max_depth)
    except UnreadableJson:
        return False
    return True


def validate_descriptor(doc: dict[str, Any]) -> ModelDescriptor:
    unknown = unknown_keys(doc, _FIELD_NAMES)
    if unknown is not None:
        raise DescriptorRejectedError(f"invalid descriptor: unknown field(s) {unknown}")
    try:
        return ModelDescriptor.model_validate(doc)
    except ValidationError as exc:
        raise DescriptorRejectedError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, `field: message`, without echoing the (possibly huge) input."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "descriptor"
        parts.append(f"{where}: {error['msg']}")
    return sanitise("invalid descriptor: " + "; ".join(parts))
