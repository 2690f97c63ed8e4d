"""The census salary pipeline served end to end, through the contract only: exported by
skl2onnx, sklearn2pmml and joblib, each published with ``modelserve publish --wait``, fed
census records with the seed's field names (hyphens, strings) over Kafka and over
``POST /predict``: every answer is scikit-learn's own, records with categories never seen in
training included, and the bad records are dead letters that say why."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from bench import salary
from service.server import Service
from service.tools.cli import main
from tests.kafka_helpers import header, produce_json, read_until
from tests.service_helpers import http
from tests.tools.test_cli import use_settings

KEY = "census-key"
# export → (file name, the tolerance its probabilities meet: ONNX computes in float32)
EXPORTS = {
    "onnx": ("salary.onnx", 1e-4),
    "pmml": ("salary.pmml", 1e-6),
    "pickle": ("salary.pkl", 1e-6),
}
ROWS = 300
UNSEEN = 20
BAD = {
    3: ("age", "thirty", "feature 'age' is not a number: 'thirty'"),
    7: ("education", None, None),  # deleted below: a missing field
    11: ("hours-per-week", "forty", "feature 'hours-per-week' is not a number: 'forty'"),
}


def census(seed: int) -> list[dict[str, Any]]:
    rows = salary.records(ROWS, seed=seed)
    fields = list(salary.CATEGORIES)
    for n, i in enumerate(range(1, ROWS, ROWS // UNSEEN)):
        rows[i][fields[n % len(fields)]] = f"Never-seen-{n}"
    return rows


def spoil(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spoiled = [dict(row) for row in rows]
    for i, (field, value, _) in BAD.items():
        if value is None:
            del spoiled[i][field]
        else:
            spoiled[i][field] = value
    return spoiled


async def publish_cli(path: Path, name: str, data_type: str) -> int:
    args = ["publish", str(path), "--name", name, "--data-type", data_type, "--wait"]
    return await asyncio.to_thread(main, args)


def assert_sklearns(result: dict[str, Any], expected: np.ndarray, label: str, tol: float) -> None:
    assert result["label"] == label
    assert list(result["probabilities"]) == list(salary.CLASSES)
    np.testing.assert_allclose(list(result["probabilities"].values()), expected, atol=tol, rtol=0)


@pytest.mark.parametrize("export", list(EXPORTS))
async def test_the_salary_pipeline_answers_as_scikit_learn(
    export: str,
    start_service: Any,
    salary_models: salary.Exports,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service: Service = await start_service(pickle_key=KEY)
    s = service.settings
    use_settings(monkeypatch, s)
    monkeypatch.setenv("MODELSERVE_PICKLE_KEY", KEY)
    filename, tolerance = EXPORTS[export]
    path = tmp_path / filename
    path.write_bytes(getattr(salary_models, export))
    data_type = f"census-{export}"
    assert await publish_cli(path, f"salary-{export}", data_type) == 0

    rows = census(seed=21)
    expected = salary_models.pipeline.predict_proba(salary.frame(rows))
    labels = salary_models.pipeline.predict(salary.frame(rows))
    sent = spoil(rows)
    await produce_json(
        s.bootstrap_servers,
        s.data_topics[0],
        [(f"c{i}", {"dataType": data_type, **r}) for i, r in enumerate(sent)],
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= ROWS - len(BAD))
    dead = await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= len(BAD))
    for record in out:
        prediction = orjson.loads(record.value)
        i = int(prediction["id"][1:])
        assert prediction["model"] == {"name": f"salary-{export}", "version": 1}
        assert_sklearns(prediction["result"], expected[i], labels[i], tolerance)
    assert {int(orjson.loads(r.value)["id"][1:]) for r in out} == set(range(ROWS)) - set(BAD)
    for record in dead:
        i = int(record.key.decode()[1:])
        assert header(record, "dlq.reason") == "invalid-record"
        reason = BAD[i][2] or "missing feature 'education'"
        assert header(record, "dlq.error") == reason
    assert {int(r.key.decode()[1:]) for r in dead} == set(BAD)

    # The same records over HTTP: one request of them all, one of one record.
    async with http(service) as client:
        answer = await client.post(f"/predict/{data_type}", json=sent[:20])
        assert answer.status_code == 200, answer.text
        for i, item in enumerate(answer.json()):
            if i in BAD:
                assert item["reason"] == "invalid-record", item
            else:
                assert_sklearns(item["result"], expected[i], labels[i], tolerance)
        one = await client.post(f"/predict/{data_type}", json=sent[1])
        assert one.status_code == 200, one.text
        assert_sklearns(one.json()["result"], expected[1], labels[1], tolerance)
        models = (await client.get(f"/models/salary-{export}")).json()
        types = {i["name"].replace("_", "-"): i["type"] for i in models["schema"]}
        assert {n for n, t in types.items() if t == "string"} == set(salary.CATEGORIES)
