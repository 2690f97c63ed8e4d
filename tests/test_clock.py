"""The wall clock the service runs on, and the fake one the tests drive expiry with: both must
keep the Clock's promise, that a sleeper wakes once now() has reached its time and not before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from service.clock import Clock, SystemClock
from tests.fake_clock import START, FakeClock


async def test_the_system_clock_is_aware_and_wakes_at_the_instant_not_before() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is not None and before <= now <= datetime.now(UTC)
    await clock.sleep_until(now - timedelta(days=1))  # past: returns at once
    at = clock.now() + timedelta(milliseconds=20)
    await clock.sleep_until(at)
    assert clock.now() >= at


async def test_the_fake_clock_wakes_only_the_sleepers_whose_time_came_soonest_first() -> None:
    clock = FakeClock()
    woke: list[int] = []

    async def sleeper(seconds: int) -> None:
        await clock.sleep_until(START + timedelta(seconds=seconds))
        woke.append(seconds)

    tasks = [asyncio.create_task(sleeper(s)) for s in (30, 10, 20)]
    await clock.until_sleepers(*(START + timedelta(seconds=s) for s in (10, 20, 30)))
    await clock.advance(timedelta(seconds=9))
    assert woke == []
    await clock.advance(timedelta(seconds=11))
    assert woke == [10, 20] and clock.now() == START + timedelta(seconds=20)
    tasks[0].cancel()  # the one of 30 s: cancelled, it leaves no sleeper behind
    await clock.until_sleepers()
    await clock.advance(timedelta(seconds=60))
    assert woke == [10, 20]
    await asyncio.gather(*tasks, return_exceptions=True)


def test_a_ticking_fake_clock_moves_on_at_every_reading() -> None:
    clock = FakeClock(tick=timedelta(milliseconds=1))
    first, second = clock.now(), clock.now()
    assert second - first == timedelta(milliseconds=1)
