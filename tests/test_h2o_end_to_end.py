"""H2O MOJOs end to end, through the contract only: each exported by H2O itself (the h2o peer
environment), published with ``modelserve publish --wait`` (the type told from what the zip
holds), fed JSON records with strings, nulls and categories H2O never saw: every prediction is
H2O's own ``predict`` (a binomial label by the MOJO's threshold), and the model events and
``/models`` name genmodel as the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from service.server import Service
from service.tools.cli import main
from tests.kafka_helpers import produce_json, read_until
from tests.peers.h2o_models import H2oModels
from tests.service_helpers import http
from tests.tools.test_cli import use_settings

MODELS = {"gbm_binomial": "shop", "glm_multinomial": "kinds", "gbm_regression": "prices"}


async def test_h2os_own_answers_through_the_service(
    start_service: Any, h2o_models: H2oModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: Service = await start_service(h2o_genmodel_jar=str(h2o_models.jar))
    s = service.settings
    use_settings(monkeypatch, s)
    for name, data_type in MODELS.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(h2o_models.mojo(name))
        args = ["publish", str(path), "--name", name, "--data-type", data_type, "--wait"]
        assert await asyncio.to_thread(main, args) == 0

    rows = h2o_models.rows
    records = [
        (f"{name}-{i}", {"dataType": data_type, **row})
        for name, data_type in MODELS.items()
        for i, row in enumerate(rows)
    ]
    await produce_json(s.bootstrap_servers, s.data_topics[0], records)
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= len(records))
    assert len(out) == len(records)
    for record in out:
        prediction = orjson.loads(record.value)
        name, i = prediction["id"].rsplit("-", 1)
        expected = h2o_models.answers(name)
        assert prediction["model"] == {"name": name, "version": 1}
        result = prediction["result"]
        if name == "gbm_regression":
            assert result["value"] == pytest.approx(expected["predict"][int(i)], abs=1e-6)
            continue
        assert result["label"] == expected["predict"][int(i)]
        probabilities = [result["probabilities"][c] for c in expected["classes"]]
        np.testing.assert_allclose(probabilities, expected["probabilities"][int(i)], atol=1e-6)

    async with http(service) as client:
        model = (await client.get("/models/gbm_binomial")).json()
        assert model["modelType"] == "H2O" and model["runtime"].startswith("h2o-genmodel")
