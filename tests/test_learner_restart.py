"""kill -9 of a learner and a restart: it resumes from the latest version it published (its
state and feedback offsets are in that version's metadata), so the coefficients at the end
equal those of an uninterrupted run over the same feedback — on a one-partition feedback
topic, where the order is fixed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import httpx
import pytest

from service.learning.algorithms import OnlineModel
from service.settings import Settings
from service.tools.devbroker import free_port
from tests.kafka_helpers import isolated_settings, produce_json
from tests.learner_helpers import INPUTS, feedback, one_partition, stream, versions

COUNT = 3000


async def learner_process(
    settings: Settings, port: int, stderr: int | None = None, **flags: str
) -> asyncio.subprocess.Process:
    """`modelserve learn` on the test's topics; ``flags`` (``inputs="x1,x0,x2"``) replace
    the defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
    for key in (
        "bootstrap_servers",
        "control_topic",
        "feedback_topic",
        "output_topic",
        "dlq_topic",
        "events_topic",
        "learner_group_id",
        "session_timeout_ms",
    ):
        env[f"MODELSERVE_{key.upper()}"] = str(getattr(settings, key))
    env["MODELSERVE_DATA_TOPICS"] = ",".join(settings.data_topics)
    env["MODELSERVE_LEARNER_HTTP_PORT"] = str(port)
    env["MODELSERVE_HTTP_HOST"] = "127.0.0.1"
    env["MODELSERVE_LOG_LEVEL"] = "WARNING"
    given = {
        "name": "online",
        "data-type": "synth",
        "algorithm": "logistic-sgd",
        "inputs": ",".join(INPUTS),
        "labels": "a,b",
        "publish-every": "200",
        "publish-interval-s": "3600",
        **{flag.replace("_", "-"): value for flag, value in flags.items()},
    }
    args = ["learn", *(part for flag, value in given.items() for part in (f"--{flag}", value))]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", *args, env=env, stderr=stderr
    )


async def learned(port: int, count: int, timeout_s: float = 60.0) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                if (await client.get("/state")).json()["learned"] == count:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the learner never learned {count} records")


def covered(descriptor: dict[str, Any]) -> int:
    return int(descriptor["metadata"]["learner"]["feedbackOffsets"].get("0", 0))


async def test_a_killed_learner_resumes_exactly_where_its_last_version_stopped(
    bootstrap: str,
) -> None:
    settings = isolated_settings(bootstrap, learner_group_id="learner-restart")
    await one_partition(bootstrap, settings.feedback_topic)
    x, y = stream(COUNT, seed=5)
    records = feedback(x, y)
    # 1,100 records: versions at 200, ..., 1,000; the last 100 are learned but not published
    # (by count; the interval is an hour) when the learner is killed.
    await produce_json(bootstrap, settings.feedback_topic, records[:1100])
    port = free_port()
    first = await learner_process(settings, port)
    try:
        await versions(settings, "online", lambda ds: bool(ds) and covered(ds[-1]) == 1000)
        await learned(port, 1100)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    await produce_json(bootstrap, settings.feedback_topic, records[1100:])
    second = await learner_process(settings, port)
    try:
        done = await versions(
            settings, "online", lambda ds: bool(ds) and covered(ds[-1]) == COUNT, timeout_s=120
        )
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    # Versions count up without a gap or a repeat, each covering more feedback.
    assert [d["version"] for d in done] == list(range(1, len(done) + 1))
    assert [covered(d) for d in done] == sorted({covered(d) for d in done})
    uninterrupted = OnlineModel("logistic-sgd", INPUTS, ("a", "b"))
    uninterrupted.test_then_train(x, y)
    final = done[-1]["metadata"]["learner"]["state"]
    assert final == _json_roundtrip(uninterrupted.state())
    assert done[-1]["metadata"]["recordsLearned"] == COUNT


def _json_roundtrip(state: dict[str, Any]) -> Any:
    import orjson

    return orjson.loads(orjson.dumps(state))


def published_by_a_learner(learner: Any) -> dict[str, Any]:
    """A version of "online" as a logistic-sgd learner on INPUTS publishes it, with
    ``learner`` as its learner metadata (None: a valid one)."""
    if learner is None:
        x, y = stream(50, seed=6)
        model = OnlineModel("logistic-sgd", INPUTS, ("a", "b"))
        model.test_then_train(x, y)
        learner = {"state": model.state(), "feedbackOffsets": {"0": 50}}
    return {
        "name": "online",
        "version": 1,
        "dataType": "synth",
        "metadata": {"algorithm": "logistic-sgd", "learner": learner},
    }


@pytest.mark.parametrize(
    ("learner", "flags", "why"),
    [
        (None, {"inputs": "x1,x0,x2"}, "--inputs gives x1,x0,x2"),
        (None, {"inputs": "x0,x1"}, "--inputs gives x0,x1"),
        (None, {"algorithm": "pa-classifier"}, "learned by logistic-sgd, not pa-classifier"),
        (None, {"labels": "a,c"}, "--labels gives a,c"),
        ({"state": "junk"}, {}, "has learner metadata that cannot be resumed from"),
        ({"state": {}, "feedbackOffsets": {"x": 1}}, {}, "cannot be resumed from"),
    ],
)
async def test_a_learner_that_cannot_resume_its_latest_version_exits_2_with_one_line(
    bootstrap: str, learner: Any, flags: dict[str, str], why: str
) -> None:
    """Not a crash loop, nor old coefficients on other columns: the operator is told what
    differs, in one line, and decides."""
    settings = isolated_settings(bootstrap)
    await produce_json(
        bootstrap, settings.control_topic, [("online", published_by_a_learner(learner))]
    )
    process = await learner_process(settings, free_port(), asyncio.subprocess.PIPE, **flags)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    text = err.decode()
    assert process.returncode == 2, text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("modelserve: version 1 of online") and why in last, text
