"""What time it is, and waiting for a time: the one seam through which the control plane reads
the wall clock, so that what depends on it (a descriptor's ``expiresAt``, history times) can be
driven by hand in tests instead of waited for. At the ground floor: the registry and the
lifecycle both take a Clock, and neither may import the other's package for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime | None) -> str | None:
    """An instant as the contract writes it: RFC 3339, UTC, with a ``Z``."""
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware (UTC)."""
        ...

    async def sleep_until(self, at: datetime) -> None:
        """Return once ``now()`` has reached ``at`` (at once if it has already)."""
        ...


class SystemClock:
    """The wall clock, waited on with the event loop's timers."""

    def now(self) -> datetime:
        return utcnow()

    async def sleep_until(self, at: datetime) -> None:
        # The loop's timers run on a monotonic clock, the instant is on the wall clock: when
        # the two drift apart (the wall clock set back), sleep again for what is left.
        left = (at - self.now()).total_seconds()
        while left > 0:
            await asyncio.sleep(left)
            left = (at - self.now()).total_seconds()
