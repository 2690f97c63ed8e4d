"""What the lean replay (control/replay.py) decides for each control record, and what it is
given to decide with: the records, and how to load a version. The lifecycle carries the
actions out; both speak this vocabulary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, TypeVar

from service.errors import DescriptorRejectedError, ModelError
from service.runtimes.base import AnswerShape
from service.serving.descriptor import ModelDescriptor

Refusal = Literal["failed", "rejected", "expired"]
Headers = Sequence[tuple[str, bytes]]
EXPIRED = "expiresAt is in the past"
T = TypeVar("T")


class ControlRecord(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    offset: int | None = None


def refusal_of(exc: ModelError) -> Refusal:
    """A failed load as its event says it: rejected when the descriptor is at fault."""
    return "rejected" if isinstance(exc, DescriptorRejectedError) else "failed"


@dataclass(frozen=True)
class AsIs:
    """Applied as it is, as apply would: a route record, a tombstone (nothing needs a load)."""


@dataclass(frozen=True)
class Refuse:
    """Refused with its event, as apply would have: unreadable, stale, expired, or loaded by
    the walk-back and failed."""

    name: str | None
    status: Refusal
    error: str
    descriptor: ModelDescriptor | None = None


@dataclass(frozen=True)
class PassOver:
    """Ended later in the replay: stands in without a model until then, with no event; with
    its answer shape when a route checks it."""

    descriptor: ModelDescriptor
    shape: AnswerShape | None = None


@dataclass(frozen=True)
class Serve(Generic[T]):
    """Serves at the end of the replay: loaded already, to install in its place."""

    descriptor: ModelDescriptor
    loaded: T


Action = AsIs | Refuse | PassOver | Serve[T]


@dataclass(frozen=True)
class Loading(Generic[T]):
    """How the plan loads a version (raising ModelError subclasses only, as Loader.load), reads
    the answer shape of what it loaded, and closes what it will not serve."""

    load: Callable[[ModelDescriptor], Awaitable[T]]
    shape: Callable[[T], AnswerShape]
    close: Callable[[T], None]
