"""Replicas of the service as real processes (so SIGTERM and SIGKILL are real), what each one
holds and has scored, a producer at a steady rate, and the accounting of every key: answered,
lost, duplicated."""

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

    async def get_json(self, path: str) -> dict[str, Any]:
        """``GET path`` on the running replica, which must answer 200."""
        assert self.process is not None and self.process.returncode is None, f"{self.name} exited"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5) as client:
            answer = await client.get(path)
        assert answer.status_code == 200, f"{self.name} GET {path}: {answer.text}"
        return dict(answer.json())

    async def scored(self) -> int:
        """Records this replica has scored since it started (its ``/stats``)."""
        return int((await self.get_json("/stats"))["scored"])

    async def partitions(self) -> frozenset[int]:
        """The data partitions assigned to this replica now (its ``/snapshot``)."""
        snapshot = await self.get_json("/snapshot")
        return frozenset(int(p["partition"]) for p in snapshot["partitions"])

    async def signal(self, sig: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 60)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.signal(signal.SIGTERM)


@dataclass(frozen=True)
class Seen:
    """A condition's answer for ``until``: true when it holds, and what was seen, which the
    failure message shows at the deadline."""

    holds: bool
    seen: Any

    def __bool__(self) -> bool:
        return self.holds


async def scored_at_least(replica: Replica, count: int) -> Seen:
    """Whether the replica has scored ``count`` records since it started."""
    scored = await replica.scored()
    return Seen(scored >= count, f"{replica.name} scored {scored}")


async def split(replicas: list[Replica], partitions: int) -> Seen:
    """Whether the replicas' assignment is settled: each holds some partitions, none holds
    one another does, and together they hold all of ``range(partitions)``."""
    shares = {r.name: await r.partitions() for r in replicas}
    whole = frozenset().union(*shares.values())
    settled = (
        all(shares.values())
        and sum(map(len, shares.values())) == partitions  # so none twice, given the next
        and whole == frozenset(range(partitions))
    )
    return Seen(settled, {name: sorted(share) for name, share in shares.items()})


async def steady_producer(
    settings: Settings,
    count: int,
    rate: float,
    prefix: str = "k",
    stop: asyncio.Event | None = None,
) -> list[str]:
    """``count`` wine-like records at ``rate`` per second, keys <prefix>0..; returns the keys.
    With ``stop``, the stream ends once it is set (``count`` is then a bound)."""
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
            if stop is not None and stop.is_set():
                break
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
