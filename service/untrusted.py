"""Bytes from outside become objects here, bounded, once for every edge (the data topic, the
control topic, feedback, HTTP): JSON nested deeper than a limit is refused before anything
walks it, and values are shown in messages and logs cut to a length before they are formatted.

Why both: a value nested a thousand deep parses (orjson stops at 1024) but breaks every
recursive walk after it (``repr``, ``str``, a re-encoding, pydantic), and one such walk in a
shared loop stopped all scoring. A huge value costs time and memory to ``repr`` in full only
to be cut afterwards."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import orjson

DEFAULT_MAX_JSON_DEPTH = 64
# The deepest limit a setting may ask for: orjson encodes at most 255 levels, and the state
# documents (``/models``) nest a descriptor's metadata a few levels down.
MAX_JSON_DEPTH_LIMIT = 200

# A JSON string: a quote, then characters other than a quote or a backslash, or escapes.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENERS = (ord("["), ord("{"))
_CLOSERS = (ord("]"), ord("}"))


class UnreadableJson(ValueError):
    """Bytes that are not JSON, or JSON nested deeper than the limit; the message says which
    (the edge prefixes what was read: a value, a descriptor, a body)."""


def loads(data: bytes | bytearray | memoryview | str, max_depth: int) -> Any:
    """``orjson.loads``, refusing JSON nested deeper than ``max_depth`` (an object or array
    is one level) before it is parsed."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogatepass")
    if json_depth(data, max_depth) > max_depth:
        raise UnreadableJson(f"nested deeper than {max_depth} levels")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UnreadableJson(f"not JSON: {exc}") from None


def json_depth(data: bytes | bytearray | memoryview, at_least: int = 0) -> int:
    """How deep the JSON text nests (0 for a scalar). When the text has no more brackets than
    ``at_least`` it cannot nest deeper than that, and their count is returned without a scan:
    the usual record (one object of scalars) costs two C-level counts."""
    raw = bytes(data)
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets <= at_least:
        return brackets
    # Brackets inside strings are text: the strings go first (valid JSON makes this exact;
    # for invalid JSON the parser refuses it anyway, in C, at its own limit).
    text = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    positions = np.flatnonzero(np.isin(text, _OPENERS + _CLOSERS))
    if positions.size == 0:
        return 0
    steps = np.where(np.isin(text[positions], _OPENERS), 1, -1).astype(np.int32)
    return int(max(0, np.cumsum(steps).max()))


def nested_deeper(value: Any, max_depth: int) -> bool:
    """Whether a value already built (from protobuf, say) nests lists and dicts deeper than
    ``max_depth``; walked with a stack of its own, never by recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def preview(value: Any, limit: int = 40) -> str:
    """A value as a message shows it, at most about ``limit`` characters, computed without
    formatting the whole of it (a long text is cut first; containers are described)."""
    if isinstance(value, str):
        shown = repr(value[:limit])  # escapes can make each character up to 10
        if len(value) > limit or len(shown) > limit + 2:
            return shown[: limit + 2] + "…"
        return shown
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        # Python refuses to print ints of over 4,300 digits; and nobody reads them.
        bits = value.bit_length()
        return repr(value) if bits <= 128 else f"<integer of {bits} bits>"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return f"<list of {len(value)} items>"
    if isinstance(value, dict):
        return f"<object of {len(value)} keys>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"
