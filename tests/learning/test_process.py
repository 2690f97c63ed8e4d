"""`modelserve learn`'s parts under their runner (learning/process.py): the HTTP part starts
after the learner, over the core it restored, and its ``/health`` is the runner's liveness, so
a learning loop that fails turns it to 503 (and the runner's wait raises the failure). The
learner's Kafka side is replaced by a restore that is given and a loop that fails on cue."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from service.learning.process import LearnerProcess
from service.settings import Settings
from tests.learning.test_learner import core

SETTINGS = Settings(bootstrap_servers="nowhere:9092", http_host="127.0.0.1", learner_http_port=0)


async def test_the_learner_s_health_is_its_runner_s_liveness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restored = core()
    process = LearnerProcess(SETTINGS, restored.options)
    fail = asyncio.Event()

    async def restore() -> None:
        process.learner.core = restored

    async def learn() -> None:
        await fail.wait()
        raise TypeError("a bug in learning")

    monkeypatch.setattr(process.learner, "start", restore)
    monkeypatch.setattr(process.learner, "run", learn)
    try:
        assert await process.runner.start()
        assert process.core is restored and process.http.port is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{process.http.port}") as client:
            assert (await client.get("/health")).json() == {"live": True}
            assert (await client.get("/state")).json()["learned"] == 0
            fail.set()
            with pytest.raises(TypeError, match="a bug in learning"):
                await asyncio.wait_for(process.runner.wait(), 5)
            answer = await client.get("/health")
            assert answer.status_code == 503 and answer.json() == {"live": False}
    finally:
        await process.runner.stop()
