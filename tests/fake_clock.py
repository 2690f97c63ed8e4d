"""A Clock (service/clock.py) moved by hand: what depends on the time (an expiry) is driven by
the test, not waited for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

START = datetime(2030, 1, 1, tzinfo=UTC)


class FakeClock:
    """Stands still unless advanced (or, with ``tick``, moves on by it at every reading, so
    that times read one after another order as they were read). Its sleepers wake when an
    advance reaches their time, and only then."""

    def __init__(self, start: datetime = START, tick: timedelta = timedelta(0)) -> None:
        self._now = start
        self._tick = tick
        self._sleepers: dict[asyncio.Future[None], datetime] = {}

    def now(self) -> datetime:
        self._now += self._tick
        return self._now

    async def sleep_until(self, at: datetime) -> None:
        if at <= self._now:
            return
        waker = asyncio.get_running_loop().create_future()
        self._sleepers[waker] = at
        try:
            await waker
        finally:
            del self._sleepers[waker]

    def _at(self, waker: asyncio.Future[None]) -> datetime:
        return self._sleepers[waker]

    @property
    def sleepers(self) -> list[datetime]:
        """When each sleeper wakes, the soonest first."""
        return sorted(self._sleepers.values())

    async def until_sleepers(self, *at: datetime) -> None:
        """Wait until the sleepers are those of ``at``: a timer just set starts sleeping, and
        one just cancelled stops, on the loop's next passes, not at once."""
        for _ in range(1000):
            if self.sleepers == sorted(at):
                return
            await asyncio.sleep(0)
        raise AssertionError(f"sleepers until {self.sleepers}, not {sorted(at)}")

    async def advance(self, by: timedelta) -> None:
        """Move on by ``by`` and wake the sleepers whose time came, the soonest first. Returns
        once each has gone on from its sleep (to its next await, or to its end)."""
        self._now += by
        due = sorted((w for w, at in self._sleepers.items() if at <= self._now), key=self._at)
        woken = [waker for waker in due if not waker.done()]  # not a cancelled sleeper's
        for waker in woken:
            waker.set_result(None)
        for _ in range(1000):  # each resumes in one pass of the loop
            if not any(waker in self._sleepers for waker in woken):
                return
            await asyncio.sleep(0)
        raise AssertionError("a sleeper the clock woke did not go on")
