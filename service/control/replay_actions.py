"""The vocabulary of the control rules (control/rules.py) and of the lean replay beside them
(control/replay.py): the records they read, the verdict the rules give each, and what the
replay makes of a verdict to load (Serve, PassOver, or a Refuse once the load failed). The
lifecycle carries verdicts and actions out alike, so all three speak it."""

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


# -- the rules' verdicts ----------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRecord:
    """A route record (``route:<dataType>``), for the route book: what became of the route is
    the route book's to say (control/route_records.py)."""

    key: bytes
    value: bytes | None


@dataclass(frozen=True)
class Retire:
    """A tombstone: the name stops serving."""

    name: str


@dataclass(frozen=True)
class Ignore:
    """A tombstone without a key: it names nothing, so it does nothing."""


@dataclass(frozen=True)
class Refuse:
    """Refused with its event: unreadable, out of versions, stale, expired; or, in a replay,
    loaded and failed."""

    name: str | None
    status: Refusal
    error: str
    descriptor: ModelDescriptor | None = None


@dataclass(frozen=True)
class Load:
    """Admitted, its version given: it serves if it loads."""

    descriptor: ModelDescriptor


Verdict = RouteRecord | Retire | Ignore | Refuse | Load

# -- what the lean replay makes of a Load ----------------------------------------------------


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


Action = RouteRecord | Retire | Ignore | Refuse | PassOver | Serve[T]


@dataclass(frozen=True)
class Loading(Generic[T]):
    """How the plan loads a version (raising ModelError subclasses only, as Loader.load), reads
    the answer shape of what it loaded, and closes what it will not serve."""

    load: Callable[[ModelDescriptor], Awaitable[T]]
    shape: Callable[[T], AnswerShape]
    close: Callable[[T], None]
