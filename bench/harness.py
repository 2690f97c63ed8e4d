"""Running things to measure: the embedded broker, preloaded topics, the service and the
baselines as subprocesses, and rates read off the output topic's timestamps."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.kafka.clients import open_topic_reader
from service.settings import Settings
from service.tools.devbroker import free_port

PARTITIONS = 4


def uid() -> str:
    return uuid.uuid4().hex[:6]


async def create_topics(bootstrap: str, *names: str, partitions: int = PARTITIONS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def preload(
    bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None
) -> None:
    """``values`` through one producer, keyed ``key`` (default: ``r<i>``, one key each)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        linger_ms=20,
        max_batch_size=512 * 1024,
        acks=1,
    )
    await producer.start()
    try:
        futures = []
        for i, value in enumerate(values):
            futures.append(await producer.send(topic, value, key=key or f"r{i}".encode()))
            if len(futures) >= 20_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def output_rate(bootstrap: str, topic: str, count: int, timeout_s: float = 300) -> float:
    """Records/s of a pipeline, read off its output: ``count`` records over the span between
    the first and the last output's timestamps (set by the pipeline's producer), so start-up
    and group joins are not counted."""
    consumer = await open_topic_reader(Settings(bootstrap_servers=bootstrap), topic)
    seen = 0
    first = last = None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {seen} of {count} records in {timeout_s}s")
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                for record in records:
                    seen += 1
                    first = record.timestamp if first is None else min(first, record.timestamp)
                    last = record.timestamp if last is None else max(last, record.timestamp)
    finally:
        await consumer.stop()
    assert first is not None and last is not None
    return count / max((last - first) / 1000.0, 1e-3)


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    http_port: int | None = None
    stderr: IO[bytes] | None = None

    def errors(self) -> str:
        if self.stderr is None:
            return ""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def service_env(bootstrap: str, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
    env["MODELSERVE_BOOTSTRAP_SERVERS"] = bootstrap
    env["MODELSERVE_LOG_LEVEL"] = "WARNING"
    env["MODELSERVE_HTTP_HOST"] = "127.0.0.1"
    for key, value in settings.items():
        env[f"MODELSERVE_{key.upper()}"] = (
            ",".join(value) if isinstance(value, list) else str(value)
        )
    return env


@contextmanager
def process(
    args: list[str], env: dict[str, str], http_port: int | None = None, cwd: Path | None = None
) -> Iterator[Running]:
    # stderr to a file, not a pipe: a pipe nobody reads blocks a chatty process once full.
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=cwd)
        running = Running(proc, env, http_port, stderr)
        try:
            if http_port is not None:
                wait_ready(running)
            yield running
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_ready(running: Running, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"process exited: {running.errors()[-3000:]}")
        try:
            if httpx.get(f"{running.base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("service not ready")


def serve(bootstrap: str, tree: Path | None = None, **settings: Any) -> Any:
    """The service as its own process; from the checkout at ``tree`` when given (``-m``
    finds the package in the working directory before the installed one)."""
    port = free_port()
    env = service_env(bootstrap, http_port=port, **settings)
    return process([sys.executable, "-m", "service", "serve"], env, http_port=port, cwd=tree)
