"""The control log present at start, replayed as one piece: loading only what serves at its
end.

Applied record by record (ModelLifecycle.apply), a replay loads every version of a model only
to throw all but the last away, and a learner's 10,000 versions make a restart take minutes.
Here the records are planned first, by the rules apply uses, in the same order: versions left
to default get highest seen + 1 (seen whatever became of it, so the numbers do not depend on
any load), then the version rule, then expiry. Per name, every version not loaded yet is taken
to load; the one serving at the end is loaded, and if it fails the name is folded again from
it with the failure known — an earlier version may serve again, or a later one the failed one
had made stale — and that one is loaded, until one loads or none is left (the walk-back). A
version that a newer one or a tombstone of the same replay ends is passed over: never loaded,
it stands in without a model until then (Registry.pass_over), so that the history and the
routes go as they would in order. Nothing here touches the registry or Kafka; the lifecycle
carries the plan out (ModelLifecycle.replay).

The records are held in memory for the replay, as many as the log has at start: compaction
(kafka/topics.py) bounds that, once the broker has compacted the older segments."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, NamedTuple, TypeVar

from service.control.descriptor import ModelDescriptor, parse_descriptor
from service.errors import DescriptorRejectedError, ModelError
from service.routing.registry import stale_version
from service.routing.route_spec import is_route_key

log = logging.getLogger(__name__)

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
    """Ended later in the replay: stands in without a model until then, with no event."""

    descriptor: ModelDescriptor


@dataclass(frozen=True)
class Serve(Generic[T]):
    """Serves at the end of the replay: loaded already, to install in its place."""

    descriptor: ModelDescriptor
    loaded: T


Action = AsIs | Refuse | PassOver | Serve[T]


async def plan_replay(
    records: Sequence[ControlRecord],
    load: Callable[[ModelDescriptor], Awaitable[T]],
    max_bytes: int,
    now: datetime,
) -> list[Action[T]]:
    """What to do with each record (same order), for a registry that starts empty. ``load``
    raises ModelError subclasses only (Loader.load); it is called for the serving versions
    and for the walk-back, name after name."""
    plan = _Plan(records, max_bytes, now)
    loaded = await plan.walk_back(load)
    actions = plan.actions(loaded)
    passed = sum(isinstance(a, PassOver) for a in actions)
    log.info(
        "control replay of %d records: %d versions to serve, %d passed over, %d loads failed",
        len(records),
        len(loaded),
        passed,
        len(plan.failed),
    )
    return actions


@dataclass
class _Name:
    """One name's descriptors and tombstones, as indices into the replay."""

    steps: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)  # those that may change what serves
    before: dict[int, int | None] = field(default_factory=dict)  # what served before each
    final: int | None = None  # what serves at the end, as folded so far


class _Plan:
    def __init__(self, records: Sequence[ControlRecord], max_bytes: int, now: datetime) -> None:
        self._size = len(records)
        self._descriptors: dict[int, ModelDescriptor] = {}  # by index, version assigned
        self._unreadable: dict[int, Refuse] = {}
        self._expired: set[int] = set()
        self.failed: dict[int, Refuse] = {}  # loads the walk-back saw fail
        self._names: dict[str, _Name] = {}
        self._read(records, max_bytes, now)

    def _read(self, records: Sequence[ControlRecord], max_bytes: int, now: datetime) -> None:
        highest: dict[str, int] = {}
        for i, (key, value, headers, _) in enumerate(records):
            if key is not None and is_route_key(key):
                continue
            name = key.decode("utf-8", errors="replace") if key is not None else None
            if value is None:
                if name is not None:  # a tombstone
                    self._add(name, i, live=True)
                continue
            try:
                descriptor = parse_descriptor(key, value, headers, max_bytes)
            except DescriptorRejectedError as exc:
                self._unreadable[i] = Refuse(name, "rejected", str(exc))
                continue
            name = descriptor.name
            # As Registry.admit: highest seen + 1, where every versioned attempt counts.
            version = descriptor.version
            if version is None:
                version = highest.get(name, 0) + 1
            highest[name] = max(highest.get(name, 0), version)
            self._descriptors[i] = descriptor.with_version(version)
            expires_at = descriptor.expires_at
            if expires_at is not None and expires_at <= now:
                self._expired.add(i)
            self._add(name, i, live=i not in self._expired)

    def _add(self, name: str, i: int, live: bool) -> None:
        entry = self._names.setdefault(name, _Name())
        entry.steps.append(i)
        if live:
            entry.live.append(i)

    def _stale(self, i: int, serving: int | None) -> str | None:
        descriptor = self._descriptors[i]
        assert descriptor.version is not None
        current = self._descriptors[serving].version if serving is not None else None
        return stale_version(descriptor.version, current, descriptor.rollback)

    def _fold(self, name: _Name, start: int, serving: int | None) -> None:
        """What serves after each live step from ``name.live[start]`` on, ``serving`` serving
        before it. Only live steps can change it: an expired or failed version never serves,
        so the walk-back refolds only what follows the version that failed."""
        for i in name.live[start:]:
            name.before[i] = serving
            if i not in self._descriptors:  # a tombstone
                serving = None
            elif self._stale(i, serving) is None:
                serving = i
        name.final = serving

    async def walk_back(self, load: Callable[[ModelDescriptor], Awaitable[T]]) -> dict[int, T]:
        loaded: dict[int, T] = {}
        for name in self._names.values():
            self._fold(name, 0, None)
            while name.final is not None:
                candidate = name.final
                descriptor = self._descriptors[candidate]
                try:
                    loaded[candidate] = await load(descriptor)
                    break
                except ModelError as exc:
                    self.failed[candidate] = Refuse(
                        descriptor.name, refusal_of(exc), str(exc), descriptor
                    )
                position = bisect.bisect_left(name.live, candidate)
                del name.live[position]
                self._fold(name, position, name.before[candidate])
        return loaded

    def actions(self, loaded: dict[int, T]) -> list[Action[T]]:
        """Every record's action: the fold again, over all steps, to say why each refused
        version is refused as apply would (the version rule first, then expiry, then load)."""
        actions: list[Action[T]] = [AsIs()] * self._size
        for i, refusal in self._unreadable.items():
            actions[i] = refusal
        for name in self._names.values():
            serving: int | None = None
            for i in name.steps:
                descriptor = self._descriptors.get(i)
                if descriptor is None:  # a tombstone
                    serving = None
                elif (why := self._stale(i, serving)) is not None:
                    actions[i] = Refuse(descriptor.name, "rejected", why, descriptor)
                elif i in self._expired:
                    actions[i] = Refuse(descriptor.name, "expired", EXPIRED, descriptor)
                elif i in self.failed:
                    actions[i] = self.failed[i]
                else:
                    serves = i in loaded  # only the name's last fold: what serves at the end
                    actions[i] = Serve(descriptor, loaded[i]) if serves else PassOver(descriptor)
                    serving = i
            assert serving == name.final, "the last fold and the actions disagree"
        return actions
