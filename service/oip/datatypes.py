"""The protocol's tensor element types, and tensor data in both its forms: JSON (a list,
flat or nested, in row-major order) and binary (Triton's binary tensor data extension, which
gRPC's ``raw_input_contents`` share: the elements little-endian, back to back; a BYTES element
is its length as a 4-byte little-endian integer, then its bytes)."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.oip.messages import OipError

Array = npt.NDArray[Any]

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_NAMES = {dtype.newbyteorder("="): name for name, dtype in DATATYPES.items()}
# Elements a tensor may hold: a bound on what one request may make the service allocate.
MAX_ELEMENTS = 1 << 26


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The protocol's name of a numpy element type (object: BYTES)."""
    return _NAMES.get(dtype.newbyteorder("="), "BYTES")


def check_shape(name: str, shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise OipError(400, f"input {name!r}: shape must be a list of whole numbers ≥ 0")
    dims = tuple(shape)
    if math.prod(dims) > MAX_ELEMENTS:
        raise OipError(400, f"input {name!r}: shape {list(dims)} is larger than served")
    return dims


def check_datatype(name: str, datatype: Any) -> np.dtype[Any]:
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise OipError(
            400, f"input {name!r}: unknown datatype {datatype!r} (one of {', '.join(DATATYPES)})"
        )
    return dtype


def from_json(name: str, datatype: str, shape: tuple[int, ...], data: Any) -> Array:
    """JSON tensor data (flat or nested) as an array of ``shape``."""
    dtype = DATATYPES[datatype]
    count = math.prod(shape)
    if not isinstance(data, list):
        data = [data]  # a single element, as some clients send a scalar
    try:
        if datatype == "BYTES":
            flat = np.array(_flatten(data), dtype=object)
            if not all(isinstance(v, str) for v in flat):
                raise OipError(400, f"input {name!r}: BYTES data must be strings")
        else:
            flat = np.asarray(data, dtype=np.float64 if datatype != "BOOL" else None).reshape(-1)
            flat = _as_type(name, datatype, flat)
    except (TypeError, ValueError, OverflowError):
        raise OipError(
            400, f"input {name!r}: data is not a tensor of {datatype} of shape {list(shape)}"
        ) from None
    if flat.size != count:
        raise OipError(
            400, f"input {name!r}: {flat.size} elements for shape {list(shape)} ({count})"
        )
    return flat.astype(dtype, copy=False).reshape(shape)


def from_binary(name: str, datatype: str, shape: tuple[int, ...], raw: bytes | memoryview) -> Array:
    """Binary tensor data as an array of ``shape``."""
    count = math.prod(shape)
    if datatype == "BYTES":
        flat = _bytes_elements(name, raw)
        if len(flat) != count:
            raise OipError(
                400, f"input {name!r}: {len(flat)} elements for shape {list(shape)} ({count})"
            )
        return np.array(flat, dtype=object).reshape(shape)
    dtype = DATATYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise OipError(
            400,
            f"input {name!r}: {len(raw)} bytes of data for shape {list(shape)} of {datatype} "
            f"({count * dtype.itemsize} expected)",
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def to_json(array: Array) -> list[Any]:
    """An output tensor's data, flat, as JSON takes it (BYTES as text)."""
    flat = array.reshape(-1)
    if flat.dtype == object:
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat]
    values: list[Any] = flat.tolist()
    return values


def to_binary(array: Array) -> bytes:
    """An output tensor's data in the binary form."""
    if array.dtype == object:
        parts = []
        for value in array.reshape(-1):
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(struct.pack("<I", len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _bytes_elements(name: str, raw: bytes | memoryview) -> list[bytes]:
    view = memoryview(raw)
    elements: list[bytes] = []
    at = 0
    while at < len(view):
        if at + 4 > len(view):
            raise OipError(400, f"input {name!r}: BYTES data ends inside an element's length")
        (length,) = struct.unpack_from("<I", view, at)
        at += 4
        if at + length > len(view):
            raise OipError(400, f"input {name!r}: BYTES data ends inside an element")
        elements.append(bytes(view[at : at + length]))
        at += length
    return elements


def _as_type(name: str, datatype: str, flat: Array) -> Array:
    """JSON numbers checked against the datatype they claim: whole numbers in range for an
    integer type, true/false (or 0/1) for BOOL."""
    if datatype == "BOOL":
        if flat.dtype == np.bool_:
            return flat
        numbers = flat.astype(np.float64)
        if not ((numbers == 0) | (numbers == 1)).all():
            raise OipError(400, f"input {name!r}: BOOL data must be true or false")
        return numbers.astype(np.bool_)
    dtype = DATATYPES[datatype]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        whole = flat == np.round(flat)
        if not (whole & (flat >= info.min) & (flat <= info.max)).all():
            raise OipError(400, f"input {name!r}: {datatype} data must be whole numbers in range")
    elif dtype.itemsize < 8:
        # A number FP16 or FP32 cannot hold would silently become infinity.
        limit = float(np.finfo(dtype).max)
        if (np.abs(flat[np.isfinite(flat)]) > limit).any():
            raise OipError(400, f"input {name!r}: a number beyond {datatype}'s range ({limit:g})")
    return flat


def _flatten(data: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat
