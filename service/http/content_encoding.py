"""A request body as its ``Content-Encoding`` says it was sent: ``gzip`` and ``deflate``
(zlib), which ``tritonclient``'s ``request_compression_algorithm`` writes, decompressed no
further than the service's body limit, so that a small compressed body cannot grow into a
large one in memory (a decompression bomb)."""

from __future__ import annotations

import zlib

from service.oip.messages import OipError

ACCEPTED = "gzip, deflate"
# zlib's window bits: +16 reads a gzip member, the plain value a zlib stream (HTTP's deflate).
_WINDOW_BITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}


def decoded_body(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """``body`` decompressed; an OipError (415 an encoding not served, 413 over ``max_bytes``
    once decompressed, 400 not what the encoding says) when it cannot be."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    bits = _WINDOW_BITS.get(name)
    if bits is None:
        raise OipError(415, f"Content-Encoding {encoding!r} is not served ({ACCEPTED})")
    parts: list[bytes] = []
    room = max_bytes + 1
    rest = body
    while True:
        # gzip may be several members, which decode to their concatenation (RFC 1952).
        stream = zlib.decompressobj(bits)
        try:
            part = stream.decompress(rest, room)
        except zlib.error as exc:
            raise OipError(400, f"the body is not {name}: {exc}") from None
        parts.append(part)
        room -= len(part)
        if room <= 0:
            raise OipError(413, f"the request body exceeds {max_bytes} bytes once decompressed")
        if not stream.eof:
            raise OipError(400, f"the body is a truncated {name} stream")
        rest = stream.unused_data
        if not rest:
            return b"".join(parts)
        if bits == zlib.MAX_WBITS:
            raise OipError(400, f"{len(rest)} bytes follow the body's {name} stream")
