"""The data plane as a part: the data loop, started once the control topic is caught up, and
rebuilt after a failure with fresh clients (its own consumer and producer, so the control plane
is untouched). Stopping drains it: no new fetch, every batch in flight acknowledged and
committed, within ``drain_timeout_s``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from aiokafka.errors import KafkaError

from service.kafka.data import DataLoop
from service.kafka.topics import ensure_topics
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger(__name__)


class DataPlane:
    name = "data"

    def __init__(
        self,
        settings: Settings,
        new_loop: Callable[[], DataLoop],
        caught_up: asyncio.Event,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._new_loop = new_loop
        self._caught_up = caught_up
        self._metrics = metrics
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
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                await self.loop.start()
                await self.loop.run()
                return
            except Exception as exc:  # the broker went away, an output was not acknowledged
                # Nothing past the failure was committed: a fresh consumer resumes from the
                # committed offsets, so records are at worst scored again, never lost.
                self._metrics.data_plane_restarts.inc()
                log.error("data plane failed (%s); restarting in %.0fs", describe(exc), backoff)
                await self.loop.close()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 30.0)
                if not self._stopping.is_set():
                    with suppress(KafkaError, OSError):
                        await ensure_topics(self._settings)
                    self.loop = self._new_loop()

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


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
