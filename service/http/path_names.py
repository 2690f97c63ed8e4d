"""Names in paths. A model's name or a dataType is any printable text (Lightbend's client
names a model ``data/optimized_WineQuality``), so a client percent-encodes it into one path
segment (``/models/data%2Foptimized_WineQuality``). The server decodes the whole path before
routing, where that slash would split the segment in two and no route would match; so, for
the paths that take a name, each segment is decoded on its own and its ``%`` and ``/`` are
escaped again, and a handler reads its name with ``path_name``."""

from __future__ import annotations

from urllib.parse import unquote, unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

# The paths whose segments hold names: a model's or a dataType's.
NAMED_PATHS = ("/models/", "/state/", "/routes/", "/predict/", "/v2/models/")


class NamesInPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(NAMED_PATHS):
            raw = scope.get("raw_path")
            if raw:
                scope = {**scope, "path": segment_escaped(raw)}
        await self.app(scope, receive, send)


def segment_escaped(raw_path: bytes) -> str:
    """The path with each segment decoded and its own ``%`` and ``/`` escaped again."""
    return "/".join(
        unquote_to_bytes(segment)
        .decode("utf-8", errors="replace")
        .replace("%", "%25")
        .replace("/", "%2F")
        for segment in raw_path.split(b"/")
    )


def path_name(segment: str) -> str:
    """A name as its client gave it, from a path segment that ``NamesInPaths`` escaped."""
    return unquote(segment)
