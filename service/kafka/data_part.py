"""The data loop as a part: started once the control topic is caught up, and rebuilt after a
failure with fresh clients (its own consumer and producer, so the control plane is untouched).
Nothing past a failure was committed: a fresh consumer resumes from the committed offsets, so
records are at worst scored again, never lost. Stopping drains it: no new fetch, every batch
in flight acknowledged and committed, within ``drain_timeout_s``.

How it restarts depends on what failed (kafka/retry.is_transient). A retriable failure — the
broker went away, an output was not acknowledged — is restarted with backoff for as long as
it takes, one warning line each time. Anything else is a bug (or a broker answer no retry
cures): it is logged with its traceback and restarted with backoff too, but when
``data_failure_limit`` of them fall within ``data_failure_window_s`` the part gives up and
raises, so its task ends, liveness turns false and the process exits non-zero, rather than
looping in silence while it looks alive."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

from aiokafka.errors import KafkaError

from service.errors import ModelServeError, describe
from service.kafka.retry import is_transient
from service.kafka.topics import ensure_topics
from service.metrics import Metrics
from service.parts import Backoff
from service.settings import Settings

log = logging.getLogger(__name__)


class DataLoopFailedError(ModelServeError):
    """The data loop failed too often, within the window, for reasons no restart cures."""


class Loop(Protocol):
    """What the part uses of a data loop (kafka/data.py's DataLoop; a fake in the tests)."""

    assigned: asyncio.Event
    lags: dict[tuple[str, int], int | None]

    async def start(self) -> None: ...
    async def run(self) -> None: ...
    def request_stop(self) -> None: ...
    async def close(self) -> None: ...


class DataPart:
    name = "data"

    def __init__(
        self,
        settings: Settings,
        new_loop: Callable[[], Loop],
        caught_up: asyncio.Event,
        metrics: Metrics,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._new_loop = new_loop
        self._caught_up = caught_up
        self._metrics = metrics
        # Public, so that a test makes the waits short instead of sleeping real seconds.
        self.backoff = backoff or Backoff(1.0, 30.0)
        self._clock = clock
        self._failures: deque[float] = deque()  # when each recent non-retriable failure was
        self.loop = new_loop()
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()

    @property
    def assigned(self) -> bool:
        return self.loop.assigned.is_set()

    async def start(self) -> None:
        pass

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self._finished.set()

    async def _run(self) -> None:
        # Records are only scored once the models in the control log are in place; otherwise
        # a restart would dead-letter records that a model was about to serve.
        await self._caught_up.wait()
        while not self._stopping.is_set():
            try:
                await self.loop.start()
                await self.loop.run()
                return
            except Exception as exc:
                delay = self._judge(exc)  # or DataLoopFailedError: the part ends
                await self.loop.close()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if not self._stopping.is_set():
                    with suppress(KafkaError, OSError):
                        await ensure_topics(self._settings)
                    self.loop = self._new_loop()

    def _judge(self, exc: Exception) -> float:
        """Logs the failure and returns the wait before the restart; raises when it is the
        non-retriable failure too many within the window."""
        if is_transient(exc):
            delay = self.backoff.next()
            self._metrics.data_plane_restarts.labels("retriable").inc()
            log.warning("data loop failed (%s); restarting in %.1fs", describe(exc), delay)
            return delay
        now = self._clock()
        window_s = self._settings.data_failure_window_s
        while self._failures and now - self._failures[0] > window_s:
            self._failures.popleft()
        self._failures.append(now)
        if len(self._failures) >= self._settings.data_failure_limit:
            raise DataLoopFailedError(
                f"{len(self._failures)} failures of the data loop in {window_s:.0f}s that a "
                f"restart does not cure (the limit); the last: {describe(exc)}"
            ) from exc
        delay = self.backoff.next()
        self._metrics.data_plane_restarts.labels("non-retriable").inc()
        log.error(
            "data loop failed with an error a restart may not cure (%d in %.0fs; %d end the "
            "service); restarting in %.1fs",
            len(self._failures),
            window_s,
            self._settings.data_failure_limit,
            delay,
            exc_info=exc,
        )
        return delay

    async def stop(self) -> None:
        """Stop fetching and wait (up to the drain timeout) for what is in flight to be
        acknowledged and committed."""
        self._stopping.set()
        self.loop.request_stop()
        if self._caught_up.is_set():
            try:
                await asyncio.wait_for(self._finished.wait(), self._settings.drain_timeout_s)
            except TimeoutError:
                log.warning("drain timed out after %.1fs", self._settings.drain_timeout_s)

    async def close(self) -> None:
        """Leave the group (the partitions move to the other replicas at once) and close the
        clients."""
        await self.loop.close()
