"""Bytes from outside become objects here, bounded, once for every edge (the data topic, the
control topic, feedback, HTTP): JSON nested deeper than a limit is refused before anything
walks it, and values are shown in messages and logs cut to a length before they are formatted.

Why both: a value nested a thousand deep parses (orjson, in C, stops at 1024) but breaks every
recursive walk after it (``repr``, ``str``, a re-encoding, pydantic), and one such walk in a
shared loop stopped all scoring. A huge value costs time and memory to ``repr`` in full only
to be cut afterwards."""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel

# A model's name, as publishers choose it: up to 256 printable characters (Lightbend's client
# names its models "tensorflow saved model" and "data/optimized_WineQuality"). Control
# characters never (they would forge log lines and event keys), nor a leading "route:",
# which keys route records on the control topic, nor "." or "..", which no client can put in
# a path (they are dot segments). One pattern for Python and JSON Schema.
MODEL_NAME_PATTERN = r"^(?!route:)(?!\.\.?$)[^\u0000-\u001f\u007f-\u009f]{1,256}$"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


def is_model_name(text: str) -> bool:
    """The pattern, matched whole (Python's ``$`` also matches before a final newline), and
    printable as Python means it: no line or paragraph separators, no invisible format
    characters (a zero-width space, a soft hyphen), no space but the ASCII one."""
    return _MODEL_NAME.fullmatch(text) is not None and text.isprintable()


def checked_model_name(text: str) -> str:
    """``is_model_name`` as a validator (pydantic's pattern check alone lets a name end in a
    newline)."""
    if not is_model_name(text):
        raise ValueError(
            "a name is 1 to 256 printable characters, not '.' or '..', not starting 'route:'"
        )
    return text


DEFAULT_MAX_JSON_DEPTH = 64
# The deepest limit a setting may ask for: orjson encodes at most 255 levels, and the state
# documents (``/models``) nest a descriptor's metadata a few levels down.
MAX_JSON_DEPTH_LIMIT = 200

# A JSON string: a quote, then runs of characters other than a quote or a backslash, or
# escapes. Possessive (nothing given back): a run is taken in one step, not a character at a
# time, several times faster over long strings.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_OPENERS = (ord("["), ord("{"))
_CLOSERS = (ord("]"), ord("}"))
_SCAN_CHUNK = 1 << 20


class UnreadableJson(ValueError):
    """Bytes that are not JSON, or JSON nested deeper than the limit; the message says which
    (the edge prefixes what was read: a value, a descriptor, a body)."""


def loads(data: bytes | bytearray | memoryview | str, max_depth: int) -> Any:
    """``orjson.loads``, refusing JSON nested deeper than ``max_depth`` (an object or array
    is one level) before anything in Python walks it. orjson parses first: in C, in linear
    time, and it stops at 1024 levels itself; only valid JSON is then measured."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogatepass")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson's own bound, far past ours
            raise UnreadableJson(f"nested deeper than {max_depth} levels") from None
        raise UnreadableJson(f"not JSON: {exc}") from None
    if json_depth(data, max_depth) > max_depth:
        raise UnreadableJson(f"nested deeper than {max_depth} levels")
    return value


def json_depth(data: bytes | bytearray | memoryview, at_least: int = 0) -> int:
    """How deep the JSON text nests (0 for a scalar), for text that is valid JSON. When the
    text has no more brackets than ``at_least`` it cannot nest deeper than that, and their
    count is returned without a scan: the usual record (one object of scalars) costs two
    C-level counts."""
    raw = bytes(data)
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets <= at_least:
        return brackets
    # Brackets inside strings are text: the strings go first. In valid JSON every string
    # ends, so the pattern never backtracks over the rest (on text that is not JSON it can
    # take quadratic time: the parser refuses that first).
    text = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    deepest, depth = 0, 0
    for start in range(0, text.size, _SCAN_CHUNK):  # bounded memory, whatever the size
        chunk = text[start : start + _SCAN_CHUNK]
        steps = np.isin(chunk, _OPENERS).astype(np.int32) - np.isin(chunk, _CLOSERS)
        levels = np.cumsum(steps, dtype=np.int32) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


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


def field_names(model: type[BaseModel]) -> frozenset[str]:
    """The keys a document of ``model`` may hold: its field names and their aliases."""
    return frozenset(
        name
        for field_name, field in model.model_fields.items()
        for name in (field_name, field.alias)
        if name
    )


def unknown_keys(document: dict[str, Any], accepted: frozenset[str]) -> str | None:
    """The first few keys of ``document`` that ``accepted`` lacks, shown; None when there are
    none. Asked before validation, which would build an error per unknown key (a million
    keys: seconds and gigabytes)."""
    if document.keys() <= accepted:
        return None
    unknown = (key for key in document if key not in accepted)
    return ", ".join(preview(key) for key in islice(unknown, 5))
