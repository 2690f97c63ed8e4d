"""Data records in: what a record is to the engine, and decoding a batch of them into groups
per dataType (fields, ids) or decode errors. Pure (no Kafka, no model), unit-tested alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Protocol

import orjson

from service.errors import DecodeError, InvalidRecordError, RecordError
from service.protobuf import is_protobuf, looks_like_protobuf, wine_record_fields
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, json_depth, loads

Headers = Sequence[tuple[str, bytes]]


class SourceRecord(Protocol):
    """What the engine needs of an input record; aiokafka's ConsumerRecord fits as it is, so
    the hot path converts nothing."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers: ...


@dataclass(frozen=True, slots=True)
class LocalRecord:
    """A record that did not come from Kafka (``POST /predict``, tests)."""

    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()
    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp: int = 0


def source_of(record: SourceRecord) -> str:
    """Where a record came from, ``topic/partition/offset``: its default id, and the source
    that predictions and dead letters name."""
    return f"{record.topic}/{record.partition}/{record.offset}"


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    fields: dict[str, Any]
    data_type: str
    record_id: str


def _header(headers: Headers, name: str) -> str | None:
    for key, raw in reversed(headers):
        if key == name and raw is not None:
            return raw.decode("utf-8", errors="replace")
    return None


def decode_record(
    record: SourceRecord,
    default_data_type: str | None,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> DecodedRecord:
    """A JSON object of features, with optional ``dataType`` (else the ``data-type`` header,
    else the default) and optional ``id`` (a string or a number; else the key, else
    topic/partition/offset). JSON nested deeper than ``max_depth`` is a decode error."""
    if record.value is None:
        raise DecodeError("record has no value")
    content_type = _header(record.headers, "content-type") if record.headers else None
    if is_protobuf(content_type):
        fields = wine_record_fields(record.value)
    elif content_type is None and looks_like_protobuf(record.value):
        fields = _headerless_wine_record(record.value, max_depth)
    else:
        try:
            fields = loads(record.value, max_depth)
        except UnreadableJson as exc:
            raise DecodeError(f"value is {exc}") from None
    if not isinstance(fields, dict):
        raise DecodeError(f"value is a JSON {type(fields).__name__}, not an object")
    data_type = fields.get("dataType")
    if data_type is None:
        data_type = _header(record.headers, "data-type") or default_data_type
    if not isinstance(data_type, str) or not data_type:
        raise InvalidRecordError("record names no dataType (field, header or default)")
    return DecodedRecord(fields, data_type, _record_id(fields, record))


def _headerless_wine_record(value: bytes, max_depth: int) -> Any:
    """A value with no content-type that is not a JSON object: JSON still when it is JSON at
    all (a number's digits can also parse as a WineRecord: it is refused as a number, never
    scored as a wine), else a WineRecord, as Lightbend's client writes them (no key, no
    headers); when it is neither, the JSON reader's refusal says what it is."""
    try:
        return loads(value, max_depth)
    except UnreadableJson as exc:
        try:
            return wine_record_fields(value)
        except RecordError:
            raise DecodeError(f"value is {exc} (nor a protobuf WineRecord)") from None


# An id is written into every output of its record (escaped, up to six bytes a character): a
# bound keeps an output within what the output topics take however large its input was.
MAX_ID_CHARS = 1024


def own_id(fields: dict[str, Any]) -> str | None:
    """The record's own ``id`` as text (a string, or a number), None when it gives none;
    InvalidRecordError for one of another type or over ``MAX_ID_CHARS``."""
    record_id = fields.get("id")
    if isinstance(record_id, str):
        if len(record_id) > MAX_ID_CHARS:
            raise InvalidRecordError(f"id is longer than {MAX_ID_CHARS} characters")
        return record_id
    if isinstance(record_id, int | float) and not isinstance(record_id, bool):
        return str(record_id)
    if record_id is not None:
        raise InvalidRecordError(f"id must be a string or a number, not a {_json_type(record_id)}")
    return None


def _record_id(fields: dict[str, Any], record: SourceRecord) -> str:
    record_id = fields.get("id")
    if type(record_id) is str and len(record_id) <= MAX_ID_CHARS:  # the usual id, per record
        return record_id
    if record_id is not None:
        return str(own_id(fields))  # a number's text, or the refusal
    if record.key is not None and len(record.key) <= MAX_ID_CHARS:
        return record.key.decode("utf-8", errors="replace")
    return source_of(record)  # no key, or one too long to repeat in every output


@dataclass(slots=True)
class DecodedGroup:
    """The records of one dataType in a batch: their positions in it, fields and ids."""

    positions: list[int] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


_headers_of = attrgetter("headers")
_value_of = attrgetter("value")


def _json_type(value: Any) -> str:
    return {dict: "JSON object", list: "JSON array", bool: "boolean"}.get(type(value), "value")


def decode_batch(
    records: Sequence[SourceRecord],
    default_data_type: str | None,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> tuple[dict[str, DecodedGroup], dict[int, RecordError]]:
    """``decode_record`` over a batch, grouped by dataType, with an error for each record that
    does not decode. The usual batch (JSON objects, no headers) is decoded a step at a time
    over the whole batch, each step one C-level pass; any other batch goes record by record.
    Both ways give the same answer (tests/test_decode_batch.py)."""
    if any(map(_headers_of, records)):
        return _decode_each(records, default_data_type, max_depth)
    values = list(map(_value_of, records))
    try:
        # The depth bound, for the whole batch in two C-level counts: a record nests no
        # deeper than it has brackets, and once every record is known to be an object (one
        # bracket at least, checked below) none has more than the batch's brackets less one
        # for each other record. Otherwise each record is measured on its own.
        joined = b"".join(values)
        brackets = joined.count(b"[") + joined.count(b"{")
        docs: list[Any] = list(map(orjson.loads, values))  # orjson, in C, stops at 1024
    except (orjson.JSONDecodeError, TypeError):  # not JSON, no value, not bytes
        return _decode_each(records, default_data_type, max_depth)
    if docs and set(map(type, docs)) != {dict}:
        return _decode_each(records, default_data_type, max_depth)
    if brackets - (len(docs) - 1) > max_depth and any(
        json_depth(value, max_depth) > max_depth for value in values
    ):
        return _decode_each(records, default_data_type, max_depth)
    data_types = [doc.get("dataType") for doc in docs]
    try:
        mixed = len(set(data_types)) != 1
    except TypeError:  # an unhashable dataType (a list, an object): invalid, said per record
        mixed = True
    if mixed:
        return _decode_each(records, default_data_type, max_depth)
    data_type = data_types[0] if data_types[0] is not None else default_data_type
    if not isinstance(data_type, str) or not data_type:
        return _decode_each(records, default_data_type, max_depth)
    try:
        ids = list(map(_record_id, docs, records))
    except InvalidRecordError:  # an id of the wrong type: said per record
        return _decode_each(records, default_data_type, max_depth)
    return {data_type: DecodedGroup(list(range(len(docs))), docs, ids)}, {}


def _decode_each(
    records: Sequence[SourceRecord], default_data_type: str | None, max_depth: int
) -> tuple[dict[str, DecodedGroup], dict[int, RecordError]]:
    groups: dict[str, DecodedGroup] = {}
    errors: dict[int, RecordError] = {}
    for i, record in enumerate(records):
        try:
            decoded = decode_record(record, default_data_type, max_depth)
        except RecordError as exc:
            errors[i] = exc
            continue
        except Exception as exc:  # a decoder's bug must cost one record, not the batch
            errors[i] = DecodeError(f"record could not be decoded: {type(exc).__name__}")
            continue
        group = groups.get(decoded.data_type)
        if group is None:
            group = groups[decoded.data_type] = DecodedGroup()
        group.positions.append(i)
        group.fields.append(decoded.fields)
        group.ids.append(decoded.record_id)
    return groups, errors
