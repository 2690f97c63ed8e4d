"""The merges' arithmetic: times ordered as times (unreadable first), Lightbend's extremes
over the parts that timed something, weighted means over the parts that have a value."""

from __future__ import annotations

from dataclasses import dataclass

from service.state.sums import instant, sum_counts, timed, weighted


@dataclass(frozen=True)
class Part:
    duration: float
    min: float
    max: float


def test_times_order_as_times_and_the_unreadable_first() -> None:
    times = ["2026-11-21T10:00:00+02:00", "2026-11-21T09:00:00Z", "never", None]
    assert sorted(times, key=instant) == [
        "never",
        None,
        "2026-11-21T10:00:00+02:00",  # 08:00 UTC
        "2026-11-21T09:00:00Z",
    ]


def test_an_idle_part_brings_no_extreme_and_the_average_is_recomputed() -> None:
    parts = [Part(30.0, 0.05, 0.4), Part(0.0, 0.0, 0.0), Part(20.0, 0.02, 0.9)]
    found = timed(parts, [300, 0, 100])
    assert (found.count, found.duration, found.min, found.max) == (400, 50.0, 0.02, 0.9)
    assert found.avg == 0.125
    assert timed([], []).avg == 0.0 and timed([], []).min == 0.0


def test_weighted_means_and_summed_counts() -> None:
    assert weighted([0.9, 0.5, None], [3, 1, 5]) == 0.8
    assert weighted([None, 0.4], [1, 0]) is None
    assert sum_counts([{"b": 1}, {"a": 2, "b": 3}]) == {"b": 4, "a": 2}
