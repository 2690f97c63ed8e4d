"""``modelserve serve`` with ``MODELSERVE_WORKERS=N`` (N > 1): this process only supervises.
It starts the workers, serves the container's HTTP port for all of them, forwards SIGTERM and
SIGINT for a graceful stop (each worker drains), and answers HTTP until the last worker has
exited."""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from pathlib import Path

from service.http.server import HttpPart, make_server
from service.settings import Settings
from service.supervisor.app import create_supervisor_app
from service.supervisor.processes import WorkerProcesses, socket_path
from service.supervisor.worker_clients import WorkerClients, unix_transports

log = logging.getLogger(__name__)


def supervise(settings: Settings, instance: str) -> int:
    asyncio.run(_supervise(settings, instance))
    return 0


async def _supervise(settings: Settings, instance: str) -> None:
    # The workers' sockets live in a private folder: only this process speaks to them.
    with tempfile.TemporaryDirectory(prefix="modelserve-") as name:
        folder = Path(name)
        processes = WorkerProcesses(settings, instance, folder)
        sockets = [socket_path(folder, i) for i in range(settings.workers)]
        workers = WorkerClients(unix_transports(sockets))
        app = create_supervisor_app(workers, instance, settings.max_request_bytes)
        http = HttpPart(make_server(app, settings.http_host, settings.http_port))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, processes.stop, signum)
        await http.start()
        log.info(
            "modelserve %s: %d workers, HTTP on port %s", instance, settings.workers, http.port
        )
        try:
            await processes.run()
        finally:
            await http.stop()
            await workers.close()
