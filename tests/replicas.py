"""Replicas of the service as real processes (so SIGTERM and SIGKILL are real), a producer at
a steady rate, and the accounting of every key: answered, lost, duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from service.settings import Settings
from service.tools.devbroker import free_port
from tests.kafka_helpers import read_all


@dataclass
class Replica:
    settings: Settings
    name: str
    process: asyncio.subprocess.Process | None = None
    port: int = field(default_factory=free_port)

    async def start(self) -> Replica:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
        values: dict[str, Any] = {
            **self.settings.model_dump(
                exclude={
                    "data_topics",
                    "allowed_locations",
                    "pickle_key",
                    "default_data_type",
                    "worker_index",
                }
            ),
            "data_topics": ",".join(self.settings.data_topics),
            "http_port": self.port,
            "instance_id": self.name,
            "log_level": os.environ.get("REPLICA_LOG_LEVEL", "WARNING"),
        }
        env.update({f"MODELSERVE_{k.upper()}": str(v) for k, v in values.items() if v is not None})
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "serve", env=env
        )
        return self

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.returncode is None, (
                    f"{self.name} exited"
                )
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout_s}s")

    async def signal(self, sig: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 60)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.signal(signal.SIGTERM)


async def steady_producer(
    settings: Settings, count: int, rate: float, prefix: str = "k"
) -> list[str]:
    """``count`` wine-like records at ``rate`` per second, keys <prefix>0..; returns the keys."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_idempotence=False,
        linger_ms=5,
        acks="all",
    )
    await producer.start()
    keys = []
    try:
        started = time.monotonic()
        pending = []
        for i in range(count):
            key = f"{prefix}{i}"
            value = {
                "dataType": "wine",
                "fixed_acidity": 7.4 + i % 7 / 10,
                "volatile_acidity": 0.7,
                "citric_acid": 0.0,
                "residual_sugar": 1.9,
                "chlorides": 0.076,
                "free_sulfur_dioxide": 11.0,
                "total_sulfur_dioxide": 34.0,
                "density": 0.9978,
                "pH": 3.51,
                "sulphates": 0.56,
                "alcohol": 9.4 + i % 5 / 10,
            }
            pending.append(
                await producer.send(settings.data_topics[0], orjson.dumps(value), key=key.encode())
            )
            keys.append(key)
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return keys


@dataclass
class Accounting:
    lost: set[str]
    duplicates: int
    answered: int


async def account(settings: Settings, keys: list[str], timeout_s: float = 90) -> Accounting:
    """Every key's predictions and dead letters, read until all keys are answered or the
    deadline passes (then what is missing counts as lost)."""
    deadline = time.monotonic() + timeout_s
    while True:
        outputs = await read_all(settings.bootstrap_servers, settings.output_topic, quiet_ms=500)
        dead = await read_all(settings.bootstrap_servers, settings.dlq_topic, quiet_ms=200)
        seen = Counter(r.key.decode() for r in [*outputs, *dead])
        lost = set(keys) - set(seen)
        if not lost or time.monotonic() > deadline:
            return Accounting(lost, sum(seen.values()) - len(seen), len(seen))
        await asyncio.sleep(0.5)
