"""Compressed request bodies (``Content-Encoding``, as ``tritonclient`` sends them with
``request_compression_algorithm``): read as sent, never decompressed past the body limit."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.http.content_encoding import decoded_body
from service.oip.messages import OipError

BODY = b'{"inputs": []}' * 100


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [
        (None, BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY)),
        ("GZIP", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
    ],
)
def test_each_encoding_gives_the_body_back(encoding: str | None, compressed: bytes) -> None:
    assert decoded_body(compressed, encoding, 1 << 20) == BODY


def status(body: bytes, encoding: str, max_bytes: int = 1 << 20) -> int:
    with pytest.raises(OipError) as refused:
        decoded_body(body, encoding, max_bytes)
    return refused.value.status


def test_a_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB in about 64 KiB
    assert len(bomb) < 1 << 17
    assert status(bomb, "gzip", max_bytes=1 << 20) == 413
    assert decoded_body(gzip.compress(b"\0" * 1000), "gzip", 1000) == b"\0" * 1000


def test_gzip_members_decode_to_their_concatenation() -> None:
    half = len(BODY) // 2
    members = gzip.compress(BODY[:half]) + gzip.compress(BODY[half:])
    assert decoded_body(members, "gzip", 1 << 20) == BODY
    assert status(members, "gzip", max_bytes=len(BODY) - 1) == 413  # the limit is for all


def test_what_is_not_the_encoding_it_names_is_refused() -> None:
    assert status(gzip.compress(BODY) + b"garbage", "gzip") == 400
    assert status(zlib.compress(BODY) + b"garbage", "deflate") == 400
    assert status(b"not gzip", "gzip") == 400
    assert status(gzip.compress(BODY)[:-12], "gzip") == 400  # truncated
    assert status(BODY, "br") == 415


@given(st.binary(max_size=512), st.sampled_from(["gzip", "deflate", "x-gzip", "compress"]))
def test_any_bytes_are_a_body_or_a_status(body: bytes, encoding: str) -> None:
    status = 0
    try:
        assert len(decoded_body(body, encoding, 4096)) <= 4096
    except OipError as exc:
        status = exc.status
    assert status in (0, 400, 413, 415)
