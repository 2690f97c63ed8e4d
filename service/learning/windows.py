"""Bounded memory of recent records by id — the data records feedback may join to, and the
predictions the serving model made — limited both by count and by age, oldest out first."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class RecentById(Generic[V]):
    def __init__(
        self, max_records: int, max_age_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_records = max_records
        self._max_age_s = max_age_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, value: V, at: float | None = None) -> None:
        """``at``: when the record was made (its Kafka timestamp, in epoch seconds), so that a
        learner reading an hour back does not take old records for new; default now."""
        self._items[key] = (self._clock() if at is None else at, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max_records:
            self._items.popitem(last=False)

    def get(self, key: str) -> V | None:
        """The value, unless it is older than the window (then it is forgotten)."""
        self.expire()
        found = self._items.get(key)
        return None if found is None else found[1]

    def expire(self) -> None:
        """Forgets what is older than the window, from the oldest put (records arrive in
        about the order they were made, so the first ones are the oldest)."""
        oldest = self._clock() - self._max_age_s
        while self._items:
            seen, _ = next(iter(self._items.values()))
            if seen >= oldest:
                return
            self._items.popitem(last=False)
