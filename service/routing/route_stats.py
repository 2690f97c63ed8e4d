"""What a route has done since it became active: kept across a member's new version (the route
did not change), started afresh by a new route message. ``/state/{dataType}``, ``/routes`` and
the Prometheus collector read them; the routes update them once per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from service.clock import utcnow
from service.routing.slots import MemberSlot

AGREEMENT_WINDOW = 10_000
SHADOW_MAX_WAITING = 2  # batches a busy shadow may fall behind before one is skipped


@dataclass
class Latency:
    """Batches timed, in ms: their total and the slowest; ``avg`` per record."""

    records: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    batches: int = 0

    def record(self, size: int, elapsed_ms: float) -> None:
        self.records += size
        self.batches += 1
        self.total_ms += elapsed_ms
        self.max_ms = max(self.max_ms, elapsed_ms)


class Window:
    """The last ``size`` numbers, as a ring, with their mean."""

    def __init__(self, size: int = AGREEMENT_WINDOW) -> None:
        self._ring = np.zeros(size)
        self._next = 0
        self._count = 0

    def extend(self, values: npt.NDArray[np.float64]) -> None:
        size = len(self._ring)
        values = values[-size:]
        end = self._next + len(values)
        if end <= size:
            self._ring[self._next : end] = values
        else:
            split = size - self._next
            self._ring[self._next :] = values[:split]
            self._ring[: end - size] = values[split:]
        self._next = end % size
        self._count = min(size, self._count + len(values))

    def mean(self) -> float | None:
        if self._count == 0:
            return None
        return float(self._ring[: self._count].mean())


@dataclass
class ShadowMember:
    """One shadow against the primary: agreement (share of equal labels, or the mean absolute
    difference of values for regressors) since the route started and over the last 10,000
    records both answered; what it failed, missed by the timeout or skipped."""

    compared: int = 0
    agreement_sum: float = 0.0
    labels: bool = True
    window: Window = field(default_factory=Window)
    errors: int = 0
    timeouts: int = 0
    skipped: int = 0
    latency: Latency = field(default_factory=Latency)

    def record_agreement(self, per_record: npt.NDArray[np.float64], labels: bool) -> None:
        self.labels = labels
        self.compared += len(per_record)
        self.agreement_sum += float(per_record.sum())
        self.window.extend(per_record)

    def record_errors(self, count: int) -> None:
        self.errors += count

    def record_latency(self, size: int, elapsed_ms: float) -> None:
        self.latency.record(size, elapsed_ms)

    def missed(self, why: str, size: int) -> None:
        if why == "skipped":
            self.skipped += size
        elif why == "unavailable":
            self.errors += size
        else:
            self.timeouts += size

    def agreement(self) -> float | None:
        return self.agreement_sum / self.compared if self.compared else None


class ShadowStats:
    def __init__(self) -> None:
        self.since: datetime = utcnow()
        self.primary = Latency()
        self._members: dict[str, ShadowMember] = {}
        self._slots: dict[str, MemberSlot] = {}

    def member(self, name: str) -> ShadowMember:
        found = self._members.get(name)
        if found is None:
            found = self._members[name] = ShadowMember()
        return found

    def slot(self, name: str) -> MemberSlot:
        found = self._slots.get(name)
        if found is None:
            found = self._slots[name] = MemberSlot(SHADOW_MAX_WAITING)
        return found

    def record_primary(self, size: int, elapsed_ms: float) -> None:
        self.primary.record(size, elapsed_ms)

    def members(self) -> dict[str, ShadowMember]:
        return dict(self._members)


class SplitStats:
    """Records the route answered (``usage``), and those each member scored for it: its share
    of a canary, every record of an ensemble."""

    def __init__(self) -> None:
        self.since: datetime = utcnow()
        self.usage = 0
        self.answered: dict[str, int] = {}
        self.latency = Latency()

    def record(self, name: str, count: int) -> None:
        self.answered[name] = self.answered.get(name, 0) + count

    def record_batch(self, size: int, elapsed_ms: float) -> None:
        self.usage += size
        self.latency.record(size, elapsed_ms)


@dataclass
class Candidate:
    wins: int = 0  # records it answered
    timeouts: int = 0  # batches it did not finish by the deadline (or was still busy for)


class SpeculativeStats:
    """Lightbend's SpeculativeExecutionStats: decider, deadline, usage, duration, min, max (per
    batch, in ms, from its start to its decision), plus wins and timeouts per candidate."""

    def __init__(self, decider: str, deadline_ms: int) -> None:
        self.since: datetime = utcnow()
        self.decider = decider
        self.deadline_ms = deadline_ms
        self.usage = 0
        self.batches = 0
        self.duration_ms = 0.0
        self.min_ms: float | None = None
        self.max_ms: float | None = None
        self.candidates: dict[str, Candidate] = {}
        self._slots: dict[str, MemberSlot] = {}

    def candidate(self, name: str) -> Candidate:
        found = self.candidates.get(name)
        if found is None:
            found = self.candidates[name] = Candidate()
        return found

    def slot(self, name: str) -> MemberSlot:
        found = self._slots.get(name)
        if found is None:
            found = self._slots[name] = MemberSlot(max_waiting=1)
        return found

    def record_decision(self, size: int, elapsed_ms: float) -> None:
        self.usage += size
        self.batches += 1
        self.duration_ms += elapsed_ms
        self.min_ms = elapsed_ms if self.min_ms is None else min(self.min_ms, elapsed_ms)
        self.max_ms = elapsed_ms if self.max_ms is None else max(self.max_ms, elapsed_ms)


RouteStats = ShadowStats | SplitStats | SpeculativeStats
