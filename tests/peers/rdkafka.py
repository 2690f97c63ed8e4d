"""librdkafka (rdkafka_client.py, confluent-kafka in the ``oip-clients`` peer environment): a
Kafka client the project did not write, producing and reading records against a live broker
in a subprocess of the event loop, so that a service running in this loop keeps serving."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.envs import peer_python

RDKAFKA_CLIENT = Path(__file__).with_name("rdkafka_client.py")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Read:
    """One topic to read from the beginning: until ``count`` records or ``timeout_s``, then
    ``linger_s`` more, keeping and counting only the records whose key starts with
    ``key_prefix``; as a member of ``group`` (subscribed) or, without one, every partition
    assigned."""

    topic: str
    count: int
    timeout_s: float = 60.0
    linger_s: float = 0.0
    group: str | None = None
    key_prefix: bytes = b""


@dataclass(frozen=True)
class RdRecord:
    """A record as librdkafka read it."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    partition: int
    offset: int

    def header_text(self) -> list[tuple[str, str]]:
        return [(k, (v or b"").decode()) for k, v in self.headers]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name and value is not None:
                return value.decode()
        return None


@dataclass
class RdResult:
    produced: int
    errors: list[str]
    consumed: dict[str, list[RdRecord]]
    seconds: dict[str, float]
    librdkafka: str
    wall_s: float = field(default=0.0)


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


async def rdkafka(
    bootstrap: str,
    produce_to: str | None = None,
    records: Sequence[tuple[bytes | None, bytes | None, Headers]] = (),
    reads: Sequence[Read] = (),
    config: dict[str, Any] | None = None,
    timeout_s: float = 180.0,
) -> RdResult:
    """Sends ``records`` ((key, value, headers) each) to ``produce_to`` through librdkafka's
    producer, waiting for every acknowledgement, then reads each of ``reads`` with its
    consumer. ``config``: librdkafka properties for both."""
    asked: dict[str, Any] = {"bootstrap": bootstrap, "config": config or {}}
    if produce_to is not None:
        asked["produce"] = {
            "topic": produce_to,
            "records": [
                {"key": _b64(k), "value": _b64(v), "headers": [[n, _b64(h)] for n, h in hs]}
                for k, v, hs in records
            ],
        }
    asked["consume"] = [
        {
            "topic": r.topic,
            "count": r.count,
            "timeout_s": r.timeout_s,
            "linger_s": r.linger_s,
            "group": r.group,
            "key_prefix": _b64(r.key_prefix),
        }
        for r in reads
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_exec(
        str(peer_python("oip-clients")),
        "-I",  # the peer's own packages only
        str(RDKAFKA_CLIENT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(json.dumps(asked).encode()), timeout_s
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"rdkafka_client failed: {stderr.decode(errors='replace')[-3000:]}")
    answer = json.loads(stdout)
    consumed = {
        topic: [
            RdRecord(
                key=_unb64(r["key"]),
                value=_unb64(r["value"]),
                headers=[(k, _unb64(v)) for k, v in r["headers"]],
                partition=r["partition"],
                offset=r["offset"],
            )
            for r in read
        ]
        for topic, read in answer["consumed"].items()
    }
    return RdResult(
        produced=answer.get("produced", 0),
        errors=answer.get("errors", []),
        consumed=consumed,
        seconds=answer["seconds"],
        librdkafka=answer["librdkafka"],
        wall_s=loop.time() - started,
    )
