"""The learner on the real broker, through the contract: feedback in, versions out on the
control topic as ordinary descriptors that the service hot-swaps to; under concept drift the
windowed accuracy recovers; every version's ONNX answers equal the learner's own state's;
id-only feedback is joined to its data record; a bad learning rate is held back by the gate
against the serving model's live quality."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from service.learning.algorithms import OnlineModel
from service.learning.process import LearnerProcess
from service.server import Service
from service.settings import Settings
from tests.kafka_helpers import header, isolated_settings, produce_json, read_until
from tests.learner_helpers import (
    DATA_TYPE,
    INPUTS,
    data_records,
    feedback,
    one_partition,
    options,
    stream,
    versions,
)
from tests.service_helpers import http, publish_and_wait


async def eventually(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def onnx_labels(artifact: bytes, rows: np.ndarray) -> list[str]:
    session = ort.InferenceSession(artifact)
    given = session.get_inputs()[0]
    dtype = np.float64 if "double" in given.type else np.float32
    return [str(v) for v in session.run(None, {given.name: rows.astype(dtype)})[0]]


async def running(settings: Settings, **overrides: Any) -> LearnerProcess:
    """The learner's parts, started and running, as `modelserve learn` runs them."""
    learner = LearnerProcess(settings, options(**overrides))
    assert await learner.runner.start()
    return learner


async def stopped(learner: LearnerProcess) -> None:
    """Stops its parts, which must all have been running until then."""
    live = learner.is_live()
    await learner.runner.stop()
    assert live, "a part of the learner failed"


async def test_drift_is_learned_and_every_version_serves_as_the_learner_answers(
    start_service: Any, bootstrap: str
) -> None:
    settings = isolated_settings(bootstrap, learner_http_port=0)
    await one_partition(bootstrap, settings.feedback_topic)  # the drift comes where it was put
    service: Service = await start_service(settings)
    # A version every 100 records (and only then), each scored over the last 200: the ones
    # right after the flip have part of their window after it.
    learner = await running(
        settings,
        algorithm="logistic-sgd",
        publish_every=100,
        publish_interval_s=3600,
        window=200,
    )
    try:
        x, y = stream(4000, seed=1, flip_at=2000)
        await produce_json(bootstrap, settings.feedback_topic, feedback(x, y))
        core = learner.core
        assert core is not None
        await eventually(
            lambda: (
                core.counts.learned == 4000
                and bool(core.versions)
                and core.versions[-1].records == 4000
            )
        )
        published = await versions(
            settings, "online", lambda ds: bool(ds) and ds[-1]["metadata"]["recordsLearned"] == 4000
        )
        learned = [d["metadata"]["recordsLearned"] for d in published]
        windowed = [d["metadata"]["prequential"]["windowed"] for d in published]
        score = dict(zip(learned, windowed, strict=True))
        dip = min(score[n] for n in range(2100, 2600, 100))
        assert dip < score[2000] - 0.1 and score[4000] > 0.9, score
        assert [d["version"] for d in published] == list(range(1, len(published) + 1))
        rows = stream(300, seed=9)[0]
        for descriptor in published:
            artifact = base64.b64decode(descriptor["data"])
            own = OnlineModel.from_state(descriptor["metadata"]["learner"]["state"])
            assert onnx_labels(artifact, rows) == list(own.predict(rows))
        last = published[-1]
        async with http(service) as client:
            for _ in range(200):
                info = (await client.get("/models/online")).json()
                if info.get("version") == last["version"] and info["status"] == "serving":
                    break
                await asyncio.sleep(0.1)
            assert info["version"] == last["version"] and info["status"] == "serving"
            body = [dict(zip(INPUTS, map(float, r), strict=True)) for r in rows]
            answers = (await client.post(f"/predict/{DATA_TYPE}", json=body)).json()
        own = OnlineModel.from_state(last["metadata"]["learner"]["state"])
        assert [a["result"]["label"] for a in answers] == list(own.predict(rows))
        assert {a["model"]["version"] for a in answers} == {last["version"]}
        async with http_learner(learner) as client:
            state = (await client.get("/state")).json()
            assert state["learned"] == 4000 and state["version"] == last["version"]
            assert "modelserve_learner_versions_total" in (await client.get("/metrics")).text
            assert (await client.get("/health")).status_code == 200
    finally:
        await stopped(learner)


async def test_id_only_feedback_is_joined_and_a_bad_learning_rate_is_held_back(
    start_service: Any, bootstrap: str
) -> None:
    settings = isolated_settings(bootstrap, learner_http_port=0)
    await start_service(settings)
    # A fixed offline model serves; its live quality is what the gate holds the learner to.
    x, y = stream(3000, seed=2)
    offline = LogisticRegression().fit(x, y)
    path = settings_path(
        settings,
        to_onnx(
            offline, x[:1].astype(np.float32), options={id(offline): {"zipmap": False}}
        ).SerializeToString(),
    )
    event = await publish_and_wait(
        settings, path, "offline", DATA_TYPE, inputs=list(INPUTS), labels=["a", "b"]
    )
    assert event["status"] == "loaded"
    await produce_json(bootstrap, settings.data_topics[0], data_records(x, "d"))
    await read_until(bootstrap, settings.output_topic, lambda r: len(r) >= 3000)
    learner = await running(
        settings, algorithm="logistic-sgd", learning_rate=1e5, publish_every=500
    )
    try:
        await produce_json(
            bootstrap,
            settings.feedback_topic,
            [*feedback(x, y, prefix="d", with_features=False), ("bad", {"id": "d1"})],
        )
        dead = await read_until(bootstrap, settings.dlq_topic, lambda r: len(r) >= 1)
        assert header(dead[0], "dlq.reason") == "invalid-feedback" and dead[0].key == b"bad"
        core = learner.core
        assert core is not None
        await eventually(lambda: core.counts.learned == 3000)
        await eventually(lambda: core.counts.held_back >= 1)
        assert core.counts.joined == 3000 and core.counts.unmatched == 0
        assert core.serving == ("offline", 1)
        serving = core.serving_quality[("offline", 1)].windowed()
        own = core.quality.windowed()
        assert serving is not None and own is not None and serving > 0.9 and own < serving - 0.02
        assert core.counts.published == 0
    finally:
        await stopped(learner)


def http_learner(learner: LearnerProcess) -> Any:
    import httpx

    assert learner.http.port is not None
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{learner.http.port}", timeout=10)


def settings_path(settings: Settings, artifact: bytes) -> Any:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "offline.onnx"
    path.write_bytes(artifact)
    return path
