"""The part that samples a process's totals for the dashboard's charts (``GET /timeline``):
a sample every ``STEP_S`` seconds, on wall-clock boundaries, the last ``KEPT`` of them kept.
What a sample holds, and how several workers' timelines add up, is state/timeline.py."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from service.metrics import Totals
from service.state.timeline import STEP_S, TimelineDocument, TimelineSample

KEPT = 180  # 15 minutes


class Timeline:
    """A part with no clients: it samples the totals until stopped."""

    name = "timeline"

    def __init__(self, totals: Totals, step_s: float = STEP_S, kept: int = KEPT) -> None:
        self._totals = totals
        self._step_s = step_s
        self._samples: deque[TimelineSample] = deque(maxlen=kept)
        self._stopping = asyncio.Event()

    def document(self) -> TimelineDocument:
        return TimelineDocument(step_s=self._step_s, samples=list(self._samples))

    def sample(self, at: float) -> None:
        """The totals at the step boundary nearest ``at``; the slowest call starts over."""
        self._samples.append(TimelineSample.of(self._totals, at, self._step_s))
        self._totals.slowest_since_sample = 0.0

    async def start(self) -> None:
        pass

    async def run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            wait = self._step_s - (now % self._step_s)
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
            except TimeoutError:
                self.sample(time.time())

    async def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        pass
