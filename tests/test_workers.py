"""MODELSERVE_WORKERS=2: two scoring processes in one group share the partitions, each with
its own HTTP port; SIGTERM to the supervisor stops both gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from typing import Any

import httpx

from service.tools.devbroker import free_port
from service.tools.publishing import build_descriptor, publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import isolated_settings, produce_json, read_until
from tests.models import ModelFiles


def adjacent_free_ports() -> int:
    """A port p such that p and p + 1 are both free (worker i listens on HTTP_PORT + i)."""
    for _ in range(50):
        base = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two adjacent free ports")


async def ready(port: int, timeout_s: float = 90) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        for _ in range(int(timeout_s * 10)):
            try:
                answer = await client.get("/health/ready")
                if answer.status_code == 200:
                    return dict(answer.json())
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"worker on port {port} never ready")


async def stats(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return dict((await client.get("/stats")).json())


async def test_two_workers_share_the_data_and_stop_on_sigterm(
    bootstrap: str, model_files: ModelFiles
) -> None:
    s = isolated_settings(bootstrap, topic_partitions=4)
    base = adjacent_free_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
    env.update(
        {
            f"MODELSERVE_{k.upper()}": str(v)
            for k, v in {
                "bootstrap_servers": bootstrap,
                "control_topic": s.control_topic,
                "data_topics": s.data_topics[0],
                "output_topic": s.output_topic,
                "dlq_topic": s.dlq_topic,
                "events_topic": s.events_topic,
                "group_id": s.group_id,
                "http_host": "127.0.0.1",
                "http_port": base,
                "workers": 2,
                "topic_partitions": 4,
                "log_level": "WARNING",
            }.items()
        }
    )
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", env=env
    )
    try:
        await asyncio.gather(ready(base), ready(base + 1))
        offset = await publish(
            s, build_descriptor(model_files.forest_onnx, "w", "wine", inputs=list(WINE_FIELDS))
        )
        assert (await wait_for_event(s, "w", offset, timeout_s=60) or {}).get("status") == "loaded"
        for port in (base, base + 1):  # both replay the control topic
            for _ in range(100):
                async with httpx.AsyncClient() as client:
                    if (await client.get(f"http://127.0.0.1:{port}/state/wine")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        rows = [
            (f"k{i}", {"dataType": "wine", **dict(zip(WINE_FIELDS, map(float, r), strict=True))})
            for i, r in enumerate(model_files.features[:400])
        ]
        await produce_json(bootstrap, s.data_topics[0], rows)
        out = await read_until(bootstrap, s.output_topic, lambda r: len({x.key for x in r}) >= 400)
        assert {r.key.decode() for r in out} == {k for k, _ in rows}
        consumed = [(await stats(port))["consumed"] for port in (base, base + 1)]
        assert sum(consumed) >= 400 and all(c > 0 for c in consumed), consumed
    finally:
        supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(supervisor.wait(), 60)
    assert code == 0
