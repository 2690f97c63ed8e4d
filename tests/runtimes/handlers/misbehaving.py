"""Form 1 handlers that misbehave, each in one way: a factory that raises, a predict that
raises, answers the wrong number of results, answers rows in wrong shapes, or hangs until the
test lets it go (``metadata["release"]``, a threading.Event, so that no thread outlives the
test); and one that records its calls' threads and its close."""

from __future__ import annotations

import threading
from typing import Any

# Row i of the `malformed` handler answers MALFORMED[i % len(MALFORMED)]; None: a good row.
MALFORMED: list[Any] = [
    None,
    {"label": "a", "score": 1.0},
    {"label": [1]},
    {"label": "a", "probabilities": {"a": "high"}},
    {"label": "a", "probabilities": [0.5, 0.5]},
    "a",
    None,
    {"value": True},
    {"outputs": {1: 2}},
]
GOOD = {"label": "a", "probabilities": {"a": 0.75, "b": 0.25}}


def factory_raises(artifact: bytes | None, metadata: dict[str, Any]) -> Any:
    raise RuntimeError("no model in this artifact")


def factory_exits(artifact: bytes | None, metadata: dict[str, Any]) -> Any:
    raise SystemExit(3)


def no_predict(artifact: bytes | None, metadata: dict[str, Any]) -> Any:
    return object()


class Raises:
    def predict(self, frame: Any) -> list[dict[str, Any]]:
        raise ValueError("no wine today")


def raises(artifact: bytes | None, metadata: dict[str, Any]) -> Raises:
    return Raises()


class WrongLength:
    def predict(self, frame: Any) -> list[dict[str, Any]]:
        return [{"value": 1.0}] * (len(frame) + 1)


def wrong_length(artifact: bytes | None, metadata: dict[str, Any]) -> WrongLength:
    return WrongLength()


class NotAList:
    def predict(self, frame: Any) -> Any:
        return {"value": 1.0}


def not_a_list(artifact: bytes | None, metadata: dict[str, Any]) -> NotAList:
    return NotAList()


class Malformed:
    def predict(self, frame: Any) -> list[Any]:
        answers = [MALFORMED[i % len(MALFORMED)] for i in range(len(frame))]
        return [GOOD if a is None else a for a in answers]


def malformed(artifact: bytes | None, metadata: dict[str, Any]) -> Malformed:
    return Malformed()


class Hangs:
    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def predict(self, frame: Any) -> list[dict[str, Any]]:
        self.release.wait(60)
        return [{"value": 1.0}] * len(frame)


def hangs(artifact: bytes | None, metadata: dict[str, Any]) -> Hangs:
    return Hangs(metadata["release"])


def hangs_at_load(artifact: bytes | None, metadata: dict[str, Any]) -> Hangs:
    """A factory that does not return until released (a remote call at load, say)."""
    metadata["release"].wait(60)
    return Hangs(metadata["release"])


class Recorder:
    """Answers each row's sum. Reports through ``metadata["seen"]`` (a dict the test holds:
    the factory is given a copy of the metadata, not the test's): the artifact it was given
    and the thread of each call; sets ``metadata["closed"]`` (an Event) when closed."""

    def __init__(self, artifact: bytes | None, metadata: dict[str, Any]) -> None:
        self.seen: dict[str, Any] = metadata.get("seen", {})
        self.seen["artifact"] = artifact
        self.seen["threads"] = []
        self.closed: threading.Event | None = metadata.get("closed")

    def predict(self, frame: Any) -> list[dict[str, Any]]:
        self.seen["threads"].append(threading.get_ident())
        return [{"value": float(sum(row))} for row in frame.itertuples(index=False)]

    def close(self) -> None:
        if self.closed is not None:
            self.closed.set()


def recorder(artifact: bytes | None, metadata: dict[str, Any]) -> Recorder:
    return Recorder(artifact, metadata)
