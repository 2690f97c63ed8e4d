"""Property-based: the guard every edge reads untrusted bytes through (service/untrusted.py).

Issue 18: one record nested a thousand deep broke every recursive walk after the parse and
stopped all scoring. The fix counts depth on the raw text, before parsing, and cuts values
shown in messages before formatting them. These properties check that count against an
independent recursive one (with brackets, quotes and backslashes inside strings, which must
not count), that ``loads`` refuses exactly what is too deep and nothing else, and that
``preview`` stays short and never raises whatever it is given."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.untrusted import UnreadableJson, json_depth, loads, nested_deeper, preview
from tests import strategies

json_values = strategies.json_values(max_size=4, max_leaves=30)
tricky_text = strategies.tricky_text
NASTY_STRINGS = ['\\"[[', '"[{', "\\", "]]}}", '\\\\"[', "\u2028[\U0001f600{", "\\u005b["]
checks = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def depth(value: Any) -> int:
    """An object or an array is one level; a scalar none (recursive on purpose: independent
    of the implementation, which is iterative)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def nest(core: Any, shape: list[bool]) -> Any:
    """``core`` wrapped in one array (False) or object (True) per item of ``shape``."""
    for as_object in shape:
        core = {"k[": core, '"{': "x"} if as_object else ["]", core, "{"]
    return core


def deep_list(k: int) -> list[Any]:
    """A list nested ``k`` deep, built without recursion."""
    value: list[Any] = []
    for _ in range(k - 1):
        value = [value]
    return value


@checks
@given(value=json_values)
def test_depth_of_the_text_is_the_depth_of_the_value(value: Any) -> None:
    data = orjson.dumps(value)
    assert json_depth(data) == depth(value)
    for at_least in range(4):  # the shortcut answers a bound, never on the wrong side of it
        assert (json_depth(data, at_least) > at_least) == (depth(value) > at_least)


@checks
@given(
    shape=st.lists(st.booleans(), max_size=200),
    core=st.sampled_from(NASTY_STRINGS) | tricky_text,
)
def test_depth_around_strings_that_look_like_brackets(shape: list[bool], core: str) -> None:
    value = nest(core, shape)
    assert json_depth(orjson.dumps(value)) == len(shape) == depth(value)


@checks
@given(k=st.integers(0, 5000), spaces=st.booleans())
def test_depth_of_bare_brackets(k: int, spaces: bool) -> None:
    gap = b" \n" if spaces else b""
    data = (b"[" + gap) * k + b"]" * k
    assert json_depth(data) == k
    assert json_depth(b'{"a":' * k + b'"[[\\"{"' + b"}" * k) == k


@checks
@given(value=json_values, shape=st.lists(st.booleans(), max_size=80), max_depth=st.integers(0, 90))
def test_loads_refuses_exactly_what_is_too_deep(
    value: Any, shape: list[bool], max_depth: int
) -> None:
    value = nest(value, shape)
    data = orjson.dumps(value)
    if depth(value) > max_depth:
        with pytest.raises(UnreadableJson, match="nested deeper"):
            loads(data, max_depth)
    else:
        assert loads(data, max_depth) == orjson.loads(data)
        assert loads(data.decode(), max_depth) == orjson.loads(data)


@checks
@given(k=st.integers(1, 1500), max_depth=st.integers(0, 1100))
def test_loads_on_deep_brackets(k: int, max_depth: int) -> None:
    data = b"[" * k + b"]" * k
    if k > max_depth or k > 1024:  # orjson's own limit: refused as not JSON
        with pytest.raises(UnreadableJson):
            loads(data, max_depth)
        return
    value = loads(data, max_depth)  # checked without recursion: it may be past the stack's
    assert nested_deeper(value, k - 1) and not nested_deeper(value, k)


@checks
@given(
    data=st.binary(max_size=300)
    | st.text(st.characters(), max_size=100)  # surrogates included, as str
    | st.text(st.characters(), max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b":", b"1", b","])).map(
        b"".join
    ),
    max_depth=st.integers(0, 64),
)
def test_loads_on_arbitrary_bytes_returns_or_refuses(data: bytes | str, max_depth: int) -> None:
    try:
        value = loads(data, max_depth)
    except UnreadableJson:
        return
    assert depth(value) <= max_depth
    assert value == orjson.loads(data)


@checks
@given(
    value=json_values, shape=st.lists(st.booleans(), max_size=100), max_depth=st.integers(0, 110)
)
def test_nested_deeper_agrees_with_the_depth(value: Any, shape: list[bool], max_depth: int) -> None:
    value = nest(value, shape)
    assert nested_deeper(value, max_depth) == (depth(value) > max_depth)


def test_nested_deeper_on_a_value_deeper_than_the_stack() -> None:
    deep = deep_list(5000)
    assert nested_deeper(deep, 64) and nested_deeper(deep, 4999)
    assert not nested_deeper(deep, 5000)


huge = st.sampled_from(
    [10**5000, -(10**5000), 2**128, -(2**128), 2**129, "x" * 10**6, b"\0" * 10**6]
)
anything = (
    json_values
    | huge
    | st.integers()
    | st.floats()
    | st.text(max_size=2000)
    | st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn"]), min_size=1, max_size=200)
    | st.binary(max_size=100)
    | st.integers(0, 5000).map(deep_list)
    | st.builds(object)
    | st.tuples(st.integers(), st.text())
    | st.sets(st.integers(), max_size=3)
)


@checks
@given(value=anything)
def test_preview_is_short_and_never_raises(value: Any) -> None:
    shown = preview(value)
    assert isinstance(shown, str)
    assert len(shown) <= 60, shown


def test_preview_of_the_extremes() -> None:
    assert preview(10**5000) == "<integer of 16610 bits>"
    assert preview("[" * 10**6).startswith("'[[[") and len(preview("[" * 10**6)) <= 60
    assert preview(deep_list(5000)) == "<list of 1 items>"


def test_text_that_is_not_json_is_never_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A review found the string pattern quadratic on an unterminated string (a 32 KB value
    held the event loop 6.5 s): text that is not JSON must be refused by the parser (in C,
    in linear time) before the scan, which runs on valid JSON only, where it is linear."""
    import service.untrusted as untrusted

    def scan(data: bytes, at_least: int = 0) -> int:
        raise AssertionError("scanned text that is not JSON")

    monkeypatch.setattr(untrusted, "json_depth", scan)
    crafted = b"[" * 65 + b'"' + b'\\"' * 20_000
    with pytest.raises(UnreadableJson, match="not JSON"):
        untrusted.loads(crafted, 64)
    with pytest.raises(UnreadableJson, match="nested deeper than 64"):
        untrusted.loads(b"[" * 2000 + b"]" * 2000, 64)  # past the parser's own limit
