"""Data records in and predictions out: decoding, feature matrices, output encoding.

Everything here is pure (no Kafka, no model runtime), so it is unit-tested on its own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, Protocol

import numpy as np
import orjson

from .errors import DecodeError, InvalidRecordError, RecordError, sanitise
from .protobuf import is_protobuf, wine_record_fields
from .runtimes.base import FloatMatrix

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


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    fields: dict[str, Any]
    data_type: str
    record_id: str


def source_of(record: SourceRecord) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def _header(headers: Headers, name: str) -> str | None:
    for key, raw in reversed(headers):
        if key == name and raw is not None:
            return raw.decode("utf-8", errors="replace")
    return None


def decode_record(record: SourceRecord, default_data_type: str | None) -> DecodedRecord:
    """A JSON object of features, with optional ``dataType`` (else the ``data-type`` header,
    else the default) and optional ``id`` (else the key, else topic/partition/offset)."""
    if record.value is None:
        raise DecodeError("record has no value")
    if record.headers and is_protobuf(_header(record.headers, "content-type")):
        fields = wine_record_fields(record.value)
    else:
        try:
            fields = orjson.loads(record.value)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"value is not JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise DecodeError(f"value is a JSON {type(fields).__name__}, not an object")
    data_type = fields.get("dataType")
    if data_type is None:
        data_type = _header(record.headers, "data-type") or default_data_type
    if not isinstance(data_type, str) or not data_type:
        raise InvalidRecordError("record names no dataType (field, header or default)")
    return DecodedRecord(fields, data_type, _record_id(fields, record))


def _record_id(fields: dict[str, Any], record: SourceRecord) -> str:
    record_id = fields.get("id")
    if record_id is not None:
        return str(record_id)
    if record.key is not None:
        return record.key.decode("utf-8", errors="replace")
    return source_of(record)


@dataclass(slots=True)
class DecodedGroup:
    """The records of one dataType in a batch: their positions in it, fields and ids."""

    positions: list[int] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


_headers_of = attrgetter("headers")
_value_of = attrgetter("value")


def decode_batch(
    records: Sequence[SourceRecord], default_data_type: str | None
) -> tuple[dict[str, DecodedGroup], dict[int, RecordError]]:
    """``decode_record`` over a batch, grouped by dataType, with an error for each record that
    does not decode. The usual batch (JSON objects, no headers) is decoded a step at a time
    over the whole batch, each step one C-level pass; any other batch goes record by record.
    Both ways give the same answer (tests/test_decode_batch.py)."""
    if any(map(_headers_of, records)):
        return _decode_each(records, default_data_type)
    try:
        docs: list[Any] = list(map(orjson.loads, map(_value_of, records)))
    except orjson.JSONDecodeError:  # a record that is not JSON (or has no value)
        return _decode_each(records, default_data_type)
    if docs and set(map(type, docs)) != {dict}:
        return _decode_each(records, default_data_type)
    data_types = [doc.get("dataType") for doc in docs]
    try:
        mixed = len(set(data_types)) != 1
    except TypeError:  # an unhashable dataType (a list, an object): invalid, said per record
        mixed = True
    if mixed:
        return _decode_each(records, default_data_type)
    data_type = data_types[0] if data_types[0] is not None else default_data_type
    if not isinstance(data_type, str) or not data_type:
        return _decode_each(records, default_data_type)
    ids = list(map(_record_id, docs, records))
    return {data_type: DecodedGroup(list(range(len(docs))), docs, ids)}, {}


def _decode_each(
    records: Sequence[SourceRecord], default_data_type: str | None
) -> tuple[dict[str, DecodedGroup], dict[int, RecordError]]:
    groups: dict[str, DecodedGroup] = {}
    errors: dict[int, RecordError] = {}
    for i, record in enumerate(records):
        try:
            decoded = decode_record(record, default_data_type)
        except RecordError as exc:
            errors[i] = exc
            continue
        group = groups.get(decoded.data_type)
        if group is None:
            group = groups[decoded.data_type] = DecodedGroup()
        group.positions.append(i)
        group.fields.append(decoded.fields)
        group.ids.append(decoded.record_id)
    return groups, errors


# -- features ---------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_name(name: str) -> str:
    """`Fixed Acidity`, `fixed-acidity` and `fixed_acidity` are one field."""
    return _SEPARATORS.sub("", name).casefold()


class FieldBinder:
    """Finds, for each model input, the record field that feeds it: the descriptor's
    ``fieldMap`` first, then the same name, then the same normalised name. Resolution depends
    only on the record's set of keys, so it is cached per key layout; records of one producer
    share a layout and cost one dict look-up."""

    def __init__(self, input_names: Sequence[str], field_map: Mapping[str, str] | None) -> None:
        self.input_names = list(input_names)
        self._field_map = dict(field_map or {})
        self._cache: dict[tuple[str, ...], list[str] | str] = {}

    def resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        """The record fields in model order, or the name of the first input it lacks."""
        found = self._cache.get(keys)
        if found is None:
            found = self._resolve(keys)
            if len(self._cache) < 1024:
                self._cache[keys] = found
        return found

    def _resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        present = set(keys)
        by_norm: dict[str, str] = {}
        for key in keys:
            by_norm.setdefault(normalise_name(key), key)
        columns = []
        for name in self.input_names:
            mapped = self._field_map.get(name)
            if mapped is not None:
                if mapped not in present:
                    return name
                columns.append(mapped)
            elif name in present:
                columns.append(name)
            elif (match := by_norm.get(normalise_name(name))) is not None:
                columns.append(match)
            else:
                return name
        return columns


def build_features(
    rows: Sequence[dict[str, Any]], binder: FieldBinder
) -> tuple[FloatMatrix, list[int], dict[int, RecordError]]:
    """One float matrix for a batch. Returns the matrix (of the good rows), the indices of the
    good rows in ``rows``, and an error for each bad row.

    The fast path builds the whole matrix in one go, with the columns found for the first row;
    only when that fails (a row with another layout, a missing or non-numeric value) does it
    fall back to checking row by row."""
    if not rows:
        return np.empty((0, len(binder.input_names))), [], {}
    columns = binder.resolve(tuple(rows[0]))
    if isinstance(columns, list):
        n, k = len(rows), len(columns)
        # itemgetter takes a row's values in one C call (given one column it returns the bare
        # value, so that case is wrapped); fromiter fills the matrix without a list of lists.
        pick = itemgetter(*columns) if k > 1 else (lambda row: tuple(row[c] for c in columns))
        try:
            values = chain.from_iterable(map(pick, rows))
            matrix = np.fromiter(values, dtype=np.float64, count=n * k).reshape(n, k)
        except (KeyError, TypeError, ValueError):
            pass
        else:
            # None becomes NaN in the conversion (JSON itself has no NaN) and numeric text
            # may say "inf": either sends the batch down the careful path, which names them.
            if np.isfinite(matrix).all():
                return matrix, list(range(n)), {}
    return _build_row_by_row(rows, binder)


def _build_row_by_row(
    rows: Sequence[dict[str, Any]], binder: FieldBinder
) -> tuple[FloatMatrix, list[int], dict[int, RecordError]]:
    good: list[list[float]] = []
    good_idx: list[int] = []
    errors: dict[int, RecordError] = {}
    for i, row in enumerate(rows):
        columns = binder.resolve(tuple(row))
        if isinstance(columns, str):
            errors[i] = InvalidRecordError(f"missing feature {columns!r}")
            continue
        try:
            good.append([_number(row[c], c) for c in columns])
        except InvalidRecordError as exc:
            errors[i] = exc
            continue
        good_idx.append(i)
    width = len(binder.input_names)
    matrix = np.array(good, dtype=np.float64) if good else np.empty((0, width))
    return matrix, good_idx, errors


def _number(value: Any, field: str) -> float:
    """What numpy's conversion in the fast path accepts: numbers, booleans, numeric text."""
    if value is None:
        raise InvalidRecordError(f"feature {field!r} is null")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRecordError(f"feature {field!r} is not a number: {value!r:.40}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidRecordError(f"feature {field!r} is not finite")
    return number


# -- outputs ----------------------------------------------------------------------------------


def dead_letter_headers(
    record: SourceRecord, error: RecordError, model: str | None
) -> list[tuple[str, bytes]]:
    """The original headers, then the dlq.* ones (a sanitised error of at most 512 chars)."""
    headers = list(record.headers)
    headers.append(("dlq.reason", error.reason.encode()))
    headers.append(("dlq.error", sanitise(str(error)).encode()))
    headers.append(("dlq.source", source_of(record).encode()))
    if model is not None:
        headers.append(("dlq.model", model.encode()))
    return headers
