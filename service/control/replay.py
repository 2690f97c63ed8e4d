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
routes go as they would in order. Nothing here touches the service's registry or Kafka; the
lifecycle carries the plan out (ModelLifecycle.replay).

A route that checks its members' answer shapes (a shadow's kind, an ensemble's label sets)
would see a stand-in's as unknown and let it pass where apply would have rejected the route.
So when the log has routes, the plan is rehearsed on a scratch registry first, and each
stand-in whose shape a check looked at is loaded to learn it (then closed), or folded again
as failed if it does not load, as apply would have; until a rehearsal looks at no unknown
shape. The plan then ends with the routes and events apply leaves. A log without routes
loads nothing more; a shadow route over a learner loads each version it saw, as apply does.
The one difference left: a passed-over version that would have failed to load, and that no
route check looked at, is taken to have loaded. It shows as superseded, not failed (no event),
and until it is ended counts where apply would have kept the version before it: for the
version rule, and for a route waiting for its name (which may go active at it).

The records are held in memory for the replay, as many as the log has at start (compaction,
kafka/topics.py, bounds that once the broker has compacted the older segments)."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from service.control.descriptor import ControlLimits, parse_descriptor
from service.control.replay_actions import (
    EXPIRED,
    Action,
    AsIs,
    ControlRecord,
    Loading,
    PassOver,
    Refuse,
    Serve,
    T,
    refusal_of,
)
from service.control.route_records import apply_route_record
from service.errors import DescriptorRejectedError, ModelError
from service.routing.registry import Registry, stale_version
from service.routing.route_spec import is_route_key
from service.runtimes.base import AnswerShape
from service.serving.descriptor import MAX_VERSION, ModelDescriptor, no_version_left

log = logging.getLogger(__name__)


async def plan_replay(
    records: Sequence[ControlRecord], loading: Loading[T], limits: ControlLimits, now: datetime
) -> list[Action[T]]:
    """What to do with each record (same order), for a registry that starts empty. Loads the
    serving versions, the walk-back, name after name, and the stand-ins a route check needs."""
    plan = _Plan(records, limits, now)
    loaded: dict[int, T] = {}
    shapes: dict[int, AnswerShape] = {}
    probed = 0
    while True:
        await plan.walk_back(loading, loaded)
        shapes.update((i, loading.shape(model)) for i, model in loaded.items())
        actions = plan.actions(loaded, shapes)
        unknown = _rehearse(records, actions, shapes, limits) if plan.has_routes else set()
        if not unknown:
            break
        # All a rehearsal looked at, not the first alone: a route over a learner looks at each
        # version, and a rehearsal per load would be quadratic. After a check passed an unknown
        # shape, one may be a load too many; never a wrong plan: the next rehearsal checks.
        for i in sorted(unknown):
            probed += 1
            try:
                model = await loading.load(plan.descriptors[i])
            except ModelError as exc:
                plan.fail(i, exc)
                continue
            shapes[i] = loading.shape(model)
            loading.close(model)
    passed = sum(isinstance(a, PassOver) for a in actions)
    log.info(
        "control replay of %d records: %d versions to serve, %d passed over (%d loaded for "
        "their answer shape), %d loads failed",
        *(len(records), len(loaded), passed, probed, len(plan.failed)),
    )
    return actions


def _rehearse(
    records: Sequence[ControlRecord],
    actions: Sequence[Action[T]],
    shapes: dict[int, AnswerShape],
    limits: ControlLimits,
) -> set[int]:
    """The plan carried out on a scratch registry as ModelLifecycle.replay will (every version
    a stand-in, with its shape when known; a refusal touches no route): the indices of the
    versions whose unknown shape a route check looked at."""
    registry = Registry()
    index: dict[int, int] = {}  # id of a version's descriptor (held by ``actions``) → index
    unknown: set[int] = set()
    registry.book.unknown_shape = lambda member: unknown.add(index[id(member.descriptor)])
    for i, (record, action) in enumerate(zip(records, actions, strict=True)):
        if isinstance(action, PassOver | Serve):
            index[id(action.descriptor)] = i
            registry.pass_over(action.descriptor, shapes.get(i))
        elif isinstance(action, AsIs) and record.key is not None:
            if is_route_key(record.key):
                apply_route_record(registry, record.key, record.value, limits)
            elif record.value is None:
                registry.retire(record.key.decode("utf-8", errors="replace"))
    return unknown


@dataclass
class _Name:
    """One name's descriptors and tombstones, as indices into the replay."""

    steps: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)  # those that may change what serves
    before: dict[int, int | None] = field(default_factory=dict)  # what served before each
    final: int | None = None  # what serves at the end, as folded so far


class _Plan:
    def __init__(
        self, records: Sequence[ControlRecord], limits: ControlLimits, now: datetime
    ) -> None:
        self._size = len(records)
        self.descriptors: dict[int, ModelDescriptor] = {}  # by index, version assigned
        self._unreadable: dict[int, Refuse] = {}
        self._expired: set[int] = set()
        self.failed: dict[int, Refuse] = {}  # loads the plan saw fail
        self._names: dict[str, _Name] = {}
        self.has_routes = False
        self._read(records, limits, now)
        for name in self._names.values():
            self._fold(name, 0, None)

    def _read(self, records: Sequence[ControlRecord], limits: ControlLimits, now: datetime) -> None:
        highest: dict[str, int] = {}
        for i, (key, value, headers, _) in enumerate(records):
            if key is not None and is_route_key(key):
                self.has_routes = True
                continue
            name = key.decode("utf-8", errors="replace") if key is not None else None
            if value is None:
                if name is not None:  # a tombstone
                    self._add(name, i, live=True)
                continue
            try:
                descriptor = parse_descriptor(key, value, headers, limits)
            except DescriptorRejectedError as exc:
                self._unreadable[i] = Refuse(name, "rejected", str(exc))
                continue
            name = descriptor.name
            # As Registry.admit: highest seen + 1, where every versioned attempt counts.
            version = descriptor.version
            if version is None:
                version = highest.get(name, 0) + 1
                if version > MAX_VERSION:  # as Registry.admit refuses it
                    self._unreadable[i] = Refuse(
                        name, "rejected", no_version_left(MAX_VERSION), descriptor
                    )
                    continue
            highest[name] = max(highest.get(name, 0), version)
            self.descriptors[i] = descriptor.with_version(version)
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
        descriptor = self.descriptors[i]
        assert descriptor.version is not None
        current = self.descriptors[serving].version if serving is not None else None
        return stale_version(descriptor.version, current, descriptor.rollback)

    def _fold(self, name: _Name, start: int, serving: int | None) -> None:
        """What serves after each live step from ``name.live[start]`` on, ``serving`` serving
        before it. Only live steps can change it: an expired or failed version never serves,
        so the walk-back refolds only what follows the version that failed."""
        for i in name.live[start:]:
            name.before[i] = serving
            if i not in self.descriptors:  # a tombstone
                serving = None
            elif self._stale(i, serving) is None:
                serving = i
        name.final = serving

    async def walk_back(self, loading: Loading[T], loaded: dict[int, T]) -> None:
        """``loaded``: what serves at the end of each name's fold, loaded (a version that
        served at the end of an earlier fold and no longer does is closed)."""
        for name in self._names.values():
            while name.final is not None and name.final not in loaded:
                candidate = name.final
                try:
                    loaded[candidate] = await loading.load(self.descriptors[candidate])
                except ModelError as exc:
                    self.fail(candidate, exc)
        for i in [i for i in loaded if self._names[self.descriptors[i].name].final != i]:
            loading.close(loaded.pop(i))

    def fail(self, i: int, exc: ModelError) -> None:
        """Version ``i`` did not load: its name is folded again from it, without it."""
        descriptor = self.descriptors[i]
        self.failed[i] = Refuse(descriptor.name, refusal_of(exc), str(exc), descriptor)
        name = self._names[descriptor.name]
        position = bisect.bisect_left(name.live, i)
        del name.live[position]
        self._fold(name, position, name.before[i])

    def actions(self, loaded: dict[int, T], shapes: dict[int, AnswerShape]) -> list[Action[T]]:
        """Every record's action: the fold again, over all steps, to say why each refused
        version is refused as apply would (the version rule first, then expiry, then load)."""
        actions: list[Action[T]] = [AsIs()] * self._size
        for i, refusal in self._unreadable.items():
            actions[i] = refusal
        for name in self._names.values():
            serving: int | None = None
            for i in name.steps:
                descriptor = self.descriptors.get(i)
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
                    actions[i] = (
                        Serve(descriptor, loaded[i])
                        if serves
                        else PassOver(descriptor, shapes.get(i))
                    )
                    serving = i
            assert serving == name.final, "the last fold and the actions disagree"
        return actions
