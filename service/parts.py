"""The one shape of every long-running part of a process (HTTP server, Kafka connection,
control reader, data loop, broker watchdog, stats publisher, a learner) and the runner that
gives them their life. A composition root (server.py, learning/process.py) only builds its
parts and hands them to a ``PartRunner`` in start order; the runner starts them in that order,
runs each as an owned task, and stops them in reverse order — which is the order that loses
nothing — so adding a part is one line in its list. Stopping is two steps: ``stop`` finishes
what is in flight and lets ``run`` return; then, once the runner has ended the run task,
``close`` releases the clients (never under a running loop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Protocol

from service.errors import describe, is_retriable

log = logging.getLogger(__name__)


class Part(Protocol):
    @property
    def name(self) -> str:
        """Names the part's task, in logs and in liveness."""
        ...

    async def start(self) -> None:
        """Until the part can run. May raise a retriable error (KafkaError, OSError) while
        the broker is not reachable: the runner retries it."""
        ...

    async def run(self) -> None:
        """Until stopped (then it returns) or failed (then it raises)."""
        ...

    async def stop(self) -> None:
        """Finish what is in flight and let ``run`` return."""
        ...

    async def close(self) -> None:
        """Release what the part holds, after its run has ended. Safe on a part that never
        started, whose start failed, or whose run failed."""
        ...


class Backoff:
    """Waits that double after each failure, from ``first_s`` up to ``max_s``: injected, so
    that tests of a restart policy wait milliseconds rather than seconds."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._next = first_s

    def next(self) -> float:
        """The wait before the next attempt; the one after it is twice as long."""
        delay = self._next
        self._next = min(delay * 2, self.max_s)
        return delay


# What a part's close may take: its work is done by then (stop drained it), so what is left
# is releasing clients, which a gone broker can stall for a whole request time-out.
CLOSE_TIMEOUT_S = 5.0
# What a part's stop (its drain) may take before the runner ends its task anyway: a stop that
# never returns (a server waiting on a connection that never closes, a drain stuck on a
# broker) must not hold every other part, and the process, forever.
STOP_TIMEOUT_S = 60.0


class PartRunner:
    """Starts, runs and stops ``parts`` (in start order). ``reaching`` names what a start
    that fails retriably waits for, in the log line (``Kafka at host:9092``)."""

    def __init__(
        self,
        parts: Sequence[Part],
        reaching: str = "the broker",
        backoff: Callable[[], Backoff] = lambda: Backoff(0.5, 10.0),
        retriable: Callable[[BaseException], bool] = is_retriable,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        self.parts = list(parts)
        self._reaching = reaching
        self._retriable = retriable  # kafka/retry.is_transient where the parts reach Kafka
        self._close_timeout_s = close_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._backoff = backoff
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._stopped = False

    @property
    def stop_requested(self) -> bool:
        return self._stopping.is_set()

    def is_live(self) -> bool:
        """No part's task has ended: one that failed (or ended by itself) leaves the process
        not live, for an orchestrator to restart it."""
        return not any(task.done() for task in self._tasks.values())

    async def start(self) -> bool:
        """Each part in order, then all of them running; False when a stop was requested
        first (nothing runs then). A start that fails with an error that is not retriable
        (a bug, a learner that cannot resume) is raised: ``stop`` still closes every part."""
        for part in self.parts:
            await self._start(part)
            if self._stopping.is_set():
                return False
        for part in self.parts:
            self._tasks[part.name] = asyncio.create_task(part.run(), name=part.name)
        return True

    async def _start(self, part: Part) -> None:
        """Until the part starts or a stop is requested: an unreachable broker is waited for
        (an orchestrator then waits instead of restarting the process in a loop)."""
        backoff = self._backoff()
        while not self._stopping.is_set():
            try:
                await part.start()
                return
            except Exception as exc:
                if not self._retriable(exc):
                    raise
                delay = backoff.next()
                log.warning(
                    "%s: %s not reachable (%s); retrying in %.1fs",
                    part.name,
                    self._reaching,
                    describe(exc),
                    delay,
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def wait(self) -> None:
        """Until a stop is requested or a part's run ends; the error of a part that failed
        is logged with its traceback and raised."""
        stop = asyncio.create_task(self._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                [stop, *self._tasks.values()], return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
        for task in done:
            if task is stop or task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                log.error("%s failed", task.get_name(), exc_info=error)
                raise error

    def request_stop(self) -> None:
        """Ends a start still waiting for the broker, and ``wait``; ``stop`` does the rest."""
        self._stopping.set()

    async def stop(self) -> None:
        """Every part, in reverse start order: it finishes what is in flight, its task is
        ended if it has not ended by itself, and then it closes its clients. Once; a part that
        fails to stop or close stops none of the others from closing."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        for part in reversed(self.parts):
            try:
                await asyncio.wait_for(part.stop(), self._stop_timeout_s)
            except TimeoutError:
                log.warning(
                    "stopping %s took over %.0fs; ending its task", part.name, self._stop_timeout_s
                )
            except (Exception, asyncio.CancelledError):
                log.exception("stopping %s failed", part.name)
            task = self._tasks.get(part.name)
            if task is not None and not task.done():
                task.cancel()
            if task is not None:
                # A task that swallows its cancellation is left behind, not waited for.
                done, _ = await asyncio.wait([task], timeout=self._close_timeout_s)
                if not done:
                    log.warning("%s did not end when cancelled; left behind", part.name)
                elif not task.cancelled() and task.exception() is not None:
                    # A failure while running was logged by wait(); one while stopping is
                    # logged here (retrieved, too, so that asyncio does not warn of it).
                    log.debug("%s ended with an error", part.name, exc_info=task.exception())
            # Closing clients whose broker is gone can raise anything, including the
            # cancellation of their own background tasks, or wait out a request time-out
            # (a producer flushing to nobody): none of it may stop or stall the drain, and
            # an orchestrator's grace period is short.
            try:
                await asyncio.wait_for(part.close(), self._close_timeout_s)
            except TimeoutError:
                log.warning(
                    "closing %s took over %.0fs; left behind", part.name, self._close_timeout_s
                )
            except (Exception, asyncio.CancelledError):
                log.debug("closing %s failed", part.name, exc_info=True)
