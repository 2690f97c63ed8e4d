"""The worker processes of ``MODELSERVE_WORKERS=N``: each a full service in the same consumer
group (Kafka spreads the partitions over them), serving HTTP on a Unix socket of its own that
only the supervisor speaks to. A worker that dies is restarted with a backoff; a stop is
forwarded to every worker, and waited for, so that each drains what it has in flight. A worker
dies with its supervisor (the kernel's parent-death signal): a replica killed outright leaves
no orphan publishing for it, and ages out of the cluster view like any killed process."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from service.settings import Settings

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0)
PR_SET_PDEATHSIG = 1


def death_with_parent() -> Callable[[], None]:
    """What a worker runs between fork and exec so that it dies with this process (Linux's
    parent-death signal; elsewhere a worker may outlive a supervisor killed outright). The C
    function is looked up here, in the parent, since loading a library in a forked child of
    a threaded process can deadlock; the child only calls it, then checks that its parent
    did not die before the signal was armed."""
    parent = os.getpid()
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def socket_path(folder: Path, index: int) -> Path:
    return folder / f"worker-{index}.sock"


def worker_env(settings: Settings, index: int, instance: str, folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MODELSERVE_WORKER_INDEX"] = str(index)
    env["MODELSERVE_INSTANCE_ID"] = f"{instance}-w{index}"
    env["MODELSERVE_REPLICA_ID"] = instance
    env["MODELSERVE_WORKER_SOCKET"] = str(socket_path(folder, index))
    return env


class WorkerProcesses:
    def __init__(
        self,
        settings: Settings,
        instance: str,
        folder: Path,
        command: Callable[[], list[str]] = lambda: [sys.executable, "-m", "service", "serve"],
    ) -> None:
        self._settings = settings
        self._instance = instance
        self._folder = folder
        self._command = command
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._failures: dict[int, int] = {}
        self._stopping = asyncio.Event()
        self._signal: int = signal.SIGTERM
        self._arm = death_with_parent()

    @property
    def count(self) -> int:
        return self._settings.workers

    async def run(self) -> None:
        """Every worker, kept running until ``stop``; then until each has drained and exited."""
        await asyncio.gather(*(self._keep(index) for index in range(self.count)))

    def stop(self, signum: int = signal.SIGTERM) -> None:
        self._stopping.set()
        self._signal = signum
        for child in self._children.values():
            if child.returncode is None:
                with suppress(ProcessLookupError):
                    child.send_signal(signum)

    async def _keep(self, index: int) -> None:
        while not self._stopping.is_set():
            child = await asyncio.create_subprocess_exec(
                *self._command(),
                env=worker_env(self._settings, index, self._instance, self._folder),
                preexec_fn=self._arm,
            )
            self._children[index] = child
            log.info("worker %d started (pid %d)", index, child.pid)
            if self._stopping.is_set():  # the stop came while it was being started
                with suppress(ProcessLookupError):
                    child.send_signal(self._signal)
            code = await child.wait()
            if self._stopping.is_set():
                log.info("worker %d stopped (%s)", index, code)
                return
            self._failures[index] = self._failures.get(index, 0) + 1
            delay = RESTART_BACKOFF_S[min(self._failures[index], len(RESTART_BACKOFF_S)) - 1]
            log.warning("worker %d exited with %s; restarting in %.0fs", index, code, delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
