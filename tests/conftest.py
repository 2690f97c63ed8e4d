"""Shared fixtures. The broker is real: the embedded Tansu broker, started once per session
and waited on until it answers, or any broker named in MODELSERVE_TEST_BOOTSTRAP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import salary
from service.clock import Clock
from service.server import Service
from service.settings import Settings
from service.tools.devbroker import DevBroker
from service.wine import WINE_FIELDS
from tests.kafka_helpers import isolated_settings
from tests.models import ModelFiles, make_model_files
from tests.peers.envs import peer_python
from tests.peers.h2o_models import H2oModels, train_h2o_models
from tests.runtimes.tensorflow_models import TensorFlowModels, build_models, tensorflow_or_skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    external = os.environ.get("MODELSERVE_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    with DevBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> ModelFiles:
    """Real models of the wine data, trained once per session: ONNX by skl2onnx, PMML by
    sklearn2pmml."""
    return make_model_files(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def h2o_models(tmp_path_factory: pytest.TempPathFactory) -> H2oModels:
    """H2O MOJOs and H2O's own answers, made once per session in the h2o peer environment
    (one local H2O, about 10 s)."""
    return train_h2o_models(peer_python("h2o"), tmp_path_factory.mktemp("h2o-models"))


@pytest.fixture(scope="session")
def salary_models() -> salary.Exports:
    """The census salary pipeline (strings and numbers), fitted once per session and exported
    by skl2onnx, sklearn2pmml and joblib."""
    return salary.export(trees=40)


@pytest.fixture(scope="session")
def wine_fields() -> list[str]:
    return list(WINE_FIELDS)


@pytest.fixture
async def start_service(bootstrap: str) -> AsyncIterator[Callable[..., Any]]:
    """Starts services on isolated topics; stops them all at the end of the test."""
    started: list[Service] = []

    async def start(
        settings: Settings | None = None, clock: Clock | None = None, **overrides: Any
    ) -> Service:
        service = Service(settings or isolated_settings(bootstrap, **overrides), clock)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def tf_models(tmp_path_factory: pytest.TempPathFactory) -> TensorFlowModels:
    """The TensorFlow test models (tests/runtimes/tensorflow_models.py), built once per
    session by the tests that ask for them; skips when TensorFlow is missing (fails under
    CI)."""
    tf = tensorflow_or_skip()
    return build_models(tf, tmp_path_factory.mktemp("tensorflow"))
