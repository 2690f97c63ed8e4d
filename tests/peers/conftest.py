"""The peers' fixtures: the wine classifier trained once per session in the MLServer
environment, and MLServer serving it (over HTTP and gRPC; with its Kafka server on, for the
tests marked kafka), once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.peers import KafkaTopics, MLServerPeer, WineModel, peer_python, serving_mlserver
from tests.peers.wine_model import train_wine_model


@pytest.fixture(scope="session")
def wine_sklearn(tmp_path_factory: pytest.TempPathFactory) -> WineModel:
    return train_wine_model(peer_python("mlserver"), tmp_path_factory.mktemp("wine-sklearn"))


@pytest.fixture(scope="module")
async def mlserver(
    wine_sklearn: WineModel, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MLServerPeer]:
    async with serving_mlserver(wine_sklearn, tmp_path_factory.mktemp("mlserver")) as peer:
        yield peer


@pytest.fixture(scope="module")
async def mlserver_kafka(
    wine_sklearn: WineModel, tmp_path_factory: pytest.TempPathFactory, bootstrap: str
) -> AsyncIterator[MLServerPeer]:
    folder: Path = tmp_path_factory.mktemp("mlserver-kafka")
    async with serving_mlserver(wine_sklearn, folder, kafka=KafkaTopics.fresh(bootstrap)) as peer:
        yield peer
