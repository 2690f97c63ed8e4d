"""`MODELSERVE_WORKERS=N`: N scoring processes in one container, each a full service in the
same consumer group (Kafka spreads the partitions over them), each with its own HTTP port
(`HTTP_PORT + i`) and queryable state. This process only supervises: it forwards SIGTERM and
SIGINT for a graceful stop and restarts a worker that dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from service.settings import Settings

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0)


def worker_env(settings: Settings, index: int, instance: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MODELSERVE_WORKER_INDEX"] = str(index)
    env["MODELSERVE_INSTANCE_ID"] = f"{instance}-w{index}"
    if settings.http_port:
        env["MODELSERVE_HTTP_PORT"] = str(settings.http_port + index)
    return env


def supervise(settings: Settings, instance: str) -> int:
    stopping = False
    children: dict[int, subprocess.Popen[bytes]] = {}
    failures: dict[int, int] = {}

    def spawn(index: int) -> None:
        children[index] = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"], env=worker_env(settings, index, instance)
        )
        log.info("worker %d started (pid %d)", index, children[index].pid)

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(settings.workers):
        spawn(index)
    while True:
        if stopping:
            for child in children.values():
                child.wait()
            return 0
        for index, child in list(children.items()):
            code = child.poll()
            if code is not None and not stopping:
                failures[index] = failures.get(index, 0) + 1
                delay = RESTART_BACKOFF_S[min(failures[index], len(RESTART_BACKOFF_S)) - 1]
                log.warning("worker %d exited with %s; restarting in %.0fs", index, code, delay)
                time.sleep(delay)
                if not stopping:
                    spawn(index)
        time.sleep(0.2)
