"""Declared routes, per dataType, and what answers because of them.

A route message is *active* once every model it names serves for its dataType and they can
answer together; until then it is *pending* and the dataType keeps its current answer (the
route active before, or its latest model). An invalid one is *rejected* and changes nothing.
A member that stops serving sends its route back to pending (the latest model answers
meanwhile); a member's new version takes over inside the route, its stats kept. Every change
is a RouteChange, which the control plane publishes as an event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from service.clock import utcnow
from service.routing.canary import CanaryRoute
from service.routing.ensemble import EnsembleRoute
from service.routing.route_spec import (
    CanarySpec,
    EnsembleSpec,
    RouteSpec,
    ShadowSpec,
    SpeculativeSpec,
)
from service.routing.route_stats import RouteStats, ShadowStats, SpeculativeStats, SplitStats
from service.routing.shadow import ShadowRoute
from service.routing.speculative import SpeculativeRoute
from service.serving.model import ServingModel
from service.serving.route import Route

RouteStatus = Literal["pending", "active", "rejected", "removed"]
MAX_REJECTIONS_KEPT = 1000


@dataclass(frozen=True)
class RouteChange:
    data_type: str
    status: RouteStatus
    spec: RouteSpec | None
    error: str | None = None


@dataclass
class Declared:
    spec: RouteSpec
    since: datetime
    stats: RouteStats | None = None  # from its first activation on
    waiting_for: tuple[str, ...] = ()


@dataclass
class Rejection:
    spec: RouteSpec | None
    error: str
    at: datetime


@dataclass
class RouteBook:
    shadow_timeout_s: float = 5.0
    active: dict[str, Declared] = field(default_factory=dict)
    pending: dict[str, Declared] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)
    changes: list[RouteChange] = field(default_factory=list)
    # Told of each member whose shape a route that checks shapes looked at without knowing it
    # (a replay's stand-in): the replay's rehearsal learns from it what it must load.
    on_unknown_shape: Callable[[ServingModel], None] | None = None
    now: Callable[[], datetime] = utcnow  # the registry's clock: when a route changed

    def declare(self, spec: RouteSpec, serving: Mapping[str, ServingModel]) -> None:
        """A route message; ``serving``: the models serving its dataType, by name. It replaces
        a route still pending unless it is rejected."""
        missing = tuple(n for n in spec.names if n not in serving)
        if missing:
            self.pending[spec.data_type] = Declared(spec, self.now(), waiting_for=missing)
            self._change(spec.data_type, "pending", spec, _waiting(missing))
            return
        why = self._incompatibility(spec, serving)
        if why is not None:
            self.reject(spec.data_type, spec, why)
            return
        self.pending.pop(spec.data_type, None)
        self._activate(Declared(spec, self.now()))

    def reject(self, data_type: str, spec: RouteSpec | None, why: str) -> None:
        self.rejected.pop(data_type, None)
        self.rejected[data_type] = Rejection(spec, why, self.now())
        # Kept for /routes, the newest only: junk route keys must not grow it without end.
        while len(self.rejected) > MAX_REJECTIONS_KEPT:
            del self.rejected[next(iter(self.rejected))]
        self._change(data_type, "rejected", spec, why)

    def remove(self, data_type: str) -> None:
        gone = self.active.pop(data_type, None) or self.pending.pop(data_type, None)
        self.pending.pop(data_type, None)
        self.rejected.pop(data_type, None)
        # Said even when there was none, so that whoever removed it hears back.
        self._change(data_type, "removed", gone.spec if gone is not None else None)

    def settle(self, data_type: str, serving: Mapping[str, ServingModel]) -> None:
        """After the dataType's models changed: a pending route whose members all serve now
        becomes active (or rejected), an active one that lost a member pending."""
        waiting = self.pending.get(data_type)
        if waiting is not None:
            missing = tuple(n for n in waiting.spec.names if n not in serving)
            if not missing:
                del self.pending[data_type]
                why = self._incompatibility(waiting.spec, serving)
                if why is None:
                    self._activate(waiting)
                else:
                    self.reject(data_type, waiting.spec, why)
            elif missing != waiting.waiting_for:
                waiting.waiting_for = missing
        current = self.active.get(data_type)
        if current is None:
            return
        missing = tuple(n for n in current.spec.names if n not in serving)
        if missing:
            del self.active[data_type]
            if data_type not in self.pending:
                current.waiting_for = missing
                self.pending[data_type] = current
                self._change(data_type, "pending", current.spec, _waiting(missing))
            return
        why = self._incompatibility(current.spec, serving)
        if why is not None:
            del self.active[data_type]
            self.reject(data_type, current.spec, why)

    def route(self, data_type: str, serving: Mapping[str, ServingModel]) -> Route | None:
        """The active route of the dataType, over its members' serving versions; None when
        it has none (its latest model answers)."""
        declared = self.active.get(data_type)
        if declared is None:
            return None
        assert declared.stats is not None
        members = [serving[n] for n in declared.spec.names]
        return build(declared.spec, members, declared.stats, self.shadow_timeout_s)

    def take_changes(self) -> list[RouteChange]:
        changes, self.changes = self.changes, []
        return changes

    def _incompatibility(self, spec: RouteSpec, serving: Mapping[str, ServingModel]) -> str | None:
        members = [serving[n] for n in spec.names]
        if spec.checks_shapes and self.on_unknown_shape is not None:
            for member in members:
                if member.shape is None:
                    self.on_unknown_shape(member)
        return spec.incompatibility({m.name: m.shape for m in members})

    def _activate(self, declared: Declared) -> None:
        data_type = declared.spec.data_type
        if declared.stats is None:
            declared.stats = new_stats(declared.spec)
        declared.waiting_for = ()
        self.active[data_type] = declared
        self.rejected.pop(data_type, None)
        self._change(data_type, "active", declared.spec)

    def _change(
        self, data_type: str, status: RouteStatus, spec: RouteSpec | None, error: str | None = None
    ) -> None:
        self.changes.append(RouteChange(data_type, status, spec, error))


def new_stats(spec: RouteSpec) -> RouteStats:
    if isinstance(spec, ShadowSpec):
        return ShadowStats()
    if isinstance(spec, SpeculativeSpec):
        return SpeculativeStats(spec.decider, spec.deadline_ms)
    return SplitStats()


def build(
    spec: RouteSpec, members: list[ServingModel], stats: RouteStats, shadow_timeout_s: float
) -> Route:
    if isinstance(spec, ShadowSpec):
        assert isinstance(stats, ShadowStats)
        return ShadowRoute(spec, members[0], members[1:], stats, shadow_timeout_s)
    if isinstance(spec, SpeculativeSpec):
        assert isinstance(stats, SpeculativeStats)
        return SpeculativeRoute(spec, members, stats)
    assert isinstance(stats, SplitStats)
    if isinstance(spec, CanarySpec):
        return CanaryRoute(spec, members, stats)
    assert isinstance(spec, EnsembleSpec)
    return EnsembleRoute(spec, members, stats)


def _waiting(missing: tuple[str, ...]) -> str:
    return "waiting for " + ", ".join(missing) + " to serve"
