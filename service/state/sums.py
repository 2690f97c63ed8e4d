"""The arithmetic the merges share: times ordered as times, Lightbend's count/duration/min/max
summed, counts summed by key, and averages weighted by what each part counted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


def instant(at: object) -> datetime:
    """An ISO time of a document, for ordering (unreadable or missing: the earliest)."""
    try:
        parsed = datetime.fromisoformat(str(at))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Timed(Protocol):
    """Lightbend's duration/min/max of a part (per record of a model, per batch of a
    speculative route)."""

    @property
    def duration(self) -> float: ...

    @property
    def min(self) -> float: ...

    @property
    def max(self) -> float: ...


@dataclass(frozen=True)
class Totalled:
    count: int
    duration: float
    min: float
    max: float

    @property
    def avg(self) -> float:
        return round(self.duration / self.count, 3) if self.count else 0.0


def timed(parts: Sequence[Timed], counts: Sequence[int]) -> Totalled:
    """Counts and durations summed, the least minimum and the greatest maximum of the parts
    that timed something (an idle one's zeros are no minimum), the average per count
    recomputed; ``counts``: each part's count."""
    used = [p for p, count in zip(parts, counts, strict=True) if count > 0]
    return Totalled(
        count=sum(counts),
        duration=round(sum(p.duration for p in parts), 3),
        min=min((p.min for p in used), default=0.0),
        max=max((p.max for p in used), default=0.0),
    )


def sum_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts by key summed, keys in the order they first came."""
    merged: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def weighted(values: Sequence[float | None], weights: Sequence[int]) -> float | None:
    """The mean of ``values`` weighted by ``weights``, over those that have both; None when
    none has."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 6) if total else None
