"""A data loop that keeps failing with a bug ends the service rather than restarting in silence
while it looks alive: on the real broker, scoring that raises a TypeError on every batch is
restarted until ``data_failure_limit`` and then ``/health/live`` answers 503,
``Service.wait()`` raises, and `modelserve serve` exits non-zero with the traceback in its
log and the reason in one line."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from service.kafka.data_part import DataLoopFailedError
from service.parts import Backoff
from service.scoring.records import SourceRecord
from service.server import Service
from tests.kafka_helpers import isolated_settings, produce_json
from tests.service_helpers import http, until

RECORD = ("k1", {"dataType": "wine", "alcohol": 9.4})

# `modelserve serve` whose scoring has a bug: every batch raises.
BROKEN_SERVE = """
import sys
from service.scoring.engine import Engine

async def broken(self, records):
    raise TypeError("a bug in scoring")

Engine.score_stream = broken
from service.tools.cli import main
sys.exit(main(["serve"]))
"""


async def test_a_data_loop_failing_with_a_bug_ends_liveness_and_wait_raises(
    start_service: Any,
    bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "service.kafka.data_part")
    settings = isolated_settings(bootstrap, data_failure_limit=2)
    service: Service = await start_service(settings)
    service.data.backoff = Backoff(0.01, 0.01)

    async def broken(records: Sequence[SourceRecord]) -> Any:
        raise TypeError("a bug in scoring")

    monkeypatch.setattr(service.engine, "score_stream", broken)
    await produce_json(bootstrap, settings.data_topics[0], [RECORD])

    async def not_live() -> bool:
        return not service.is_live()

    await until(not_live, timeout_s=60)
    async with http(service) as client:
        live = await client.get("/health/live")
    assert live.status_code == 503 and live.json()["live"] is False
    with pytest.raises(DataLoopFailedError, match="2 failures of the data loop") as caught:
        await asyncio.wait_for(service.wait(), 5)
    assert "TypeError: a bug in scoring" in str(caught.value)
    restarted = service.metrics.registry.get_sample_value(
        "modelserve_data_plane_restarts_total", {"cause": "non-retriable"}
    )
    assert restarted == 1  # the first failure restarted, the second ended it
    logged = [r for r in caplog.records if r.name == "service.kafka.data_part"]
    assert logged and logged[0].exc_info is not None


async def test_modelserve_serve_exits_non_zero_with_the_traceback_and_one_line_why(
    bootstrap: str,
) -> None:
    settings = isolated_settings(bootstrap, data_failure_limit=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
    for key in (
        "bootstrap_servers",
        "control_topic",
        "output_topic",
        "dlq_topic",
        "events_topic",
        "feedback_topic",
        "stats_topic",
        "group_id",
        "session_timeout_ms",
        "http_host",
        "http_port",
        "instance_id",
        "data_failure_limit",
    ):
        env[f"MODELSERVE_{key.upper()}"] = str(getattr(settings, key))
    env["MODELSERVE_DATA_TOPICS"] = ",".join(settings.data_topics)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BROKEN_SERVE, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await produce_json(bootstrap, settings.data_topics[0], [RECORD])
        _, err = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = err.decode()
    assert process.returncode == 1, text
    assert "Traceback" in text and "TypeError: a bug in scoring" in text, text
    last = text.strip().splitlines()[-1]
    assert "modelserve serve exits with 1: DataLoopFailedError" in last, text
