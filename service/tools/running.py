"""Running a long-lived command (`serve`, `learn`) until SIGTERM/SIGINT or until one of its
parts fails: the signals only request the stop, and the exit code says which it was."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from service.errors import describe

log = logging.getLogger(__name__)


class Runs(Protocol):
    """What runs parts: a Service, or a PartRunner itself."""

    async def start(self) -> object: ...
    async def wait(self) -> None: ...
    def request_stop(self) -> None: ...
    async def stop(self) -> None: ...


async def run_until_stopped(
    runs: Runs, command: str, started: Callable[[], None] = lambda: None
) -> int:
    """0 after a requested stop; 1 when a part failed, with one log line saying why, the last
    (the runner logged the part's traceback). A start that fails for good raises, after every
    part is closed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runs.request_stop)
    failure: Exception | None = None
    try:
        await runs.start()
        started()
        try:
            await runs.wait()
        except Exception as exc:
            failure = exc
    finally:
        await runs.stop()
    if failure is None:
        return 0
    log.error("modelserve %s exits with 1: %s", command, describe(failure))
    return 1
