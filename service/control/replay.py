"""The control log present at start, replayed as one piece: loading only what serves at its
end.

Applied record by record (ModelLifecycle.apply), a replay loads every version of a model only
to throw all but the last away, and a learner's 10,000 versions make a restart take minutes.
Here the records are planned first, by the rules apply uses (control/rules.py), folded over
each name's records in order with the state the registry would hold (rules.Versions), every
version taken to load until a load says otherwise. The version serving at the end of a name's
fold is loaded; if it fails, the name is folded again from it with the failure known (an
earlier version may serve again, or a later one the failed one had made stale), and that one
is loaded, until one loads or none is left (the walk-back). A version that a newer one or a
tombstone of the same replay ends is passed over: never loaded, it stands in without a model
until then (Registry.pass_over), so that the history and the routes go as they would in
order. Nothing here touches the service's registry or Kafka; the lifecycle carries the plan
out (ModelLifecycle.replay).

A route that checks its members' answer shapes (a shadow's kind, an ensemble's label sets)
would see a stand-in's as unknown and let it pass where apply would have rejected the route.
So when the log has routes, the plan is rehearsed on a scratch registry first, which tells of
each member whose unknown shape a check looked at (Registry's ``on_unknown_shape``); each such
stand-in is loaded to learn its shape (then closed), or folded again as failed if it does not
load, as apply would have; until a rehearsal looks at no unknown shape. The plan then ends with
the routes and events apply leaves. A log without routes loads nothing more; a shadow route
over a learner loads each version it saw, as apply does.

One difference stays, and must: a passed-over version that would have failed to load, and
that no route check looked at, is taken to have loaded, since only a load can tell, and not
loading what the log ends is the point. It shows as superseded, not failed (no event), and
until it is ended counts where apply would have kept the version before it: for the version
rule, and for a route waiting for its name (which may go active at it). Put otherwise: the
replay ends as apply in order would have, had every version it did not try loaded well
(tests/control/test_lifecycle_replay.py checks exactly that on generated logs).

The records are held in memory for the replay, as many as the log has at start (compaction,
kafka/topics.py, bounds that once the broker has compacted the older segments)."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from service.control.descriptor import ControlLimits
from service.control.replay_actions import (
    Action,
    ControlRecord,
    Load,
    Loading,
    PassOver,
    Refuse,
    Retire,
    RouteRecord,
    Serve,
    T,
    Verdict,
    refusal_of,
)
from service.control.route_records import apply_route_record
from service.control.rules import Reading, Versions, admit, read
from service.errors import ModelError
from service.routing.registry import Registry
from service.runtimes.base import AnswerShape
from service.serving.descriptor import ModelDescriptor

log = logging.getLogger(__name__)


async def plan_replay(
    records: Sequence[ControlRecord], loading: Loading[T], limits: ControlLimits, now: datetime
) -> list[Action[T]]:
    """What to do with each record (same order), for a registry that starts empty. Loads the
    serving versions, the walk-back, name after name, and the stand-ins a route check needs."""
    plan = _Plan([read(record, limits) for record in records], now)
    loaded: dict[int, T] = {}
    shapes: dict[int, AnswerShape] = {}
    probed = 0
    while True:
        await plan.walk_back(loading, loaded)
        shapes.update((i, loading.shape(model)) for i, model in loaded.items())
        actions = plan.actions(loaded, shapes)
        unknown = _rehearse(actions, shapes, limits) if plan.has_routes else set()
        if not unknown:
            break
        # All a rehearsal looked at, not the first alone: a route over a learner looks at each
        # version, and a rehearsal per load would be quadratic. After a check passed an unknown
        # shape, one may be a load too many; never a wrong plan: the next rehearsal checks.
        for i in sorted(unknown):
            probed += 1
            try:
                model = await loading.load(plan.descriptor(i))
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
    actions: Sequence[Action[T]], shapes: dict[int, AnswerShape], limits: ControlLimits
) -> set[int]:
    """The plan carried out on a scratch registry as ModelLifecycle.replay will (every version
    a stand-in, with its shape when known; a refusal touches no route): the indices of the
    versions whose unknown shape a route check looked at."""
    # Each stand-in's record, by its descriptor (held by ``actions``): known before it stands
    # in, since the check its arrival sets off may look at it.
    index: dict[int, int] = {}
    unknown: set[int] = set()
    registry = Registry(on_unknown_shape=lambda m: unknown.add(index[id(m.descriptor)]))
    for i, action in enumerate(actions):
        if isinstance(action, PassOver | Serve):
            index[id(action.descriptor)] = i
            registry.pass_over(action.descriptor, shapes.get(i))
        elif isinstance(action, RouteRecord):
            apply_route_record(registry, action.key, action.value, limits)
        elif isinstance(action, Retire):
            registry.retire(action.name)
    return unknown


@dataclass
class _Name:
    """One name's records (indices into the replay), and its last fold: the state before each
    (what the version rule and default versions read there) and the verdict on each."""

    steps: list[int] = field(default_factory=list)
    before: dict[int, tuple[Versions, int | None]] = field(default_factory=dict)
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    final: int | None = None  # the index of what serves at the end


class _Plan:
    def __init__(self, readings: list[Reading], now: datetime) -> None:
        self._readings = readings
        self._now = now
        self.failed: dict[int, Refuse] = {}  # loads the plan saw fail
        self._names: dict[str, _Name] = {}
        self.has_routes = any(isinstance(r, RouteRecord) for r in readings)
        for i, reading in enumerate(readings):
            if isinstance(reading, ModelDescriptor | Retire):
                self._names.setdefault(reading.name, _Name()).steps.append(i)
        for name in self._names.values():
            self._fold(name, 0, Versions(), None)

    def _fold(self, name: _Name, start: int, versions: Versions, serving: int | None) -> None:
        """The rules over ``name``'s steps from ``name.steps[start]`` on, from the state
        before it: ``versions``, and the index of the version ``serving``. A Load loads unless
        the plan saw it fail."""
        for i in name.steps[start:]:
            name.before[i] = (versions, serving)
            reading = self._readings[i]
            verdict: Verdict = (
                admit(reading, versions, self._now)
                if isinstance(reading, ModelDescriptor)
                else reading
            )
            name.verdicts[i] = verdict
            loads = isinstance(verdict, Load) and i not in self.failed
            if isinstance(verdict, Retire):
                serving = None
            elif loads:
                serving = i
            versions = versions.after(verdict, loads)
        name.final = serving

    def descriptor(self, i: int) -> ModelDescriptor:
        """The descriptor of the Load at ``i``, its version given."""
        verdict = self._names[self._name_of(i)].verdicts[i]
        assert isinstance(verdict, Load)
        return verdict.descriptor

    def _name_of(self, i: int) -> str:
        reading = self._readings[i]
        assert isinstance(reading, ModelDescriptor | Retire)
        return reading.name

    async def walk_back(self, loading: Loading[T], loaded: dict[int, T]) -> None:
        """``loaded``: what serves at the end of each name's fold, loaded (a version that
        served at the end of an earlier fold and no longer does is closed)."""
        for name in self._names.values():
            while name.final is not None and name.final not in loaded:
                candidate = name.final
                try:
                    loaded[candidate] = await loading.load(self.descriptor(candidate))
                except ModelError as exc:
                    self.fail(candidate, exc)
        for i in [i for i in loaded if self._names[self._name_of(i)].final != i]:
            loading.close(loaded.pop(i))

    def fail(self, i: int, exc: ModelError) -> None:
        """The version at ``i`` did not load: its name is folded again from it, knowing."""
        descriptor = self.descriptor(i)
        self.failed[i] = Refuse(descriptor.name, refusal_of(exc), str(exc), descriptor)
        name = self._names[descriptor.name]
        self._fold(name, bisect.bisect_left(name.steps, i), *name.before[i])

    def actions(self, loaded: dict[int, T], shapes: dict[int, AnswerShape]) -> list[Action[T]]:
        """Every record's action: the last fold's verdicts, each Load made what came of it
        (served at the end, passed over, or failed)."""
        actions: list[Action[T]] = []
        for i, reading in enumerate(self._readings):
            if not isinstance(reading, ModelDescriptor | Retire):
                actions.append(reading)
                continue
            verdict = self._names[reading.name].verdicts[i]
            if not isinstance(verdict, Load):
                actions.append(verdict)
            elif i in self.failed:
                actions.append(self.failed[i])
            elif i in loaded:  # only the name's last fold: what serves at the end
                actions.append(Serve(verdict.descriptor, loaded[i]))
            else:
                actions.append(PassOver(verdict.descriptor, shapes.get(i)))
        return actions
