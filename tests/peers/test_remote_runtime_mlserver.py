"""A REMOTE model served by MLServer 1.7.1 (mlserver_peer.py): the scikit-learn wine
classifier, called over REST and gRPC with ``outputs`` mapping MLServer's ``predict`` and
``predict_proba``, answers what scikit-learn answers, one request per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from service.errors import ModelUnavailableError
from service.inputs.schema import TypedBatch
from service.remote.endpoints import EndpointBook
from service.remote.runtime import RemoteModel
from service.wine import WINE_FIELDS
from tests.peers import MLServerPeer, WineModel
from tests.remote.helpers import load_remote

MAPPED = {"label": "predict", "probabilities": "predict_proba"}
ROWS = 400  # of the 1,599: batches of 100


def endpoints(mlserver: MLServerPeer) -> dict[str, str]:
    return {"rest": mlserver.http_url, "grpc": f"grpc://{mlserver.grpc_target}"}


async def scored(
    model: RemoteModel, features: list[list[float]], size: int
) -> list[dict[str, Any]]:
    rows = []
    for start in range(0, len(features), size):
        batch = TypedBatch.of_matrix(model.input_schema, features[start : start + size])
        rows.extend((await asyncio.to_thread(model.predict, batch)).rows())
    return rows


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_mapped_outputs_answer_as_scikit_learn(
    mlserver: MLServerPeer, wine_sklearn: WineModel, transport: str
) -> None:
    classes = [str(c) for c in wine_sklearn.classes]
    model = await asyncio.to_thread(
        load_remote,
        endpoints(mlserver)[transport],
        output_map=MAPPED,
        labels=classes,
        model=mlserver.model_name,
    )
    try:
        assert model.input_schema.names == list(WINE_FIELDS)  # its metadata: [-1, 11] FP64
        rows = await scored(model, wine_sklearn.features[:ROWS], 100)
    finally:
        model.close()
    assert [r["label"] for r in rows] == [str(c) for c in wine_sklearn.predict[:ROWS]]
    got = np.array([[r["probabilities"][c] for c in classes] for r in rows])
    assert np.allclose(got, wine_sklearn.predict_proba[:ROWS], rtol=0, atol=1e-12)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_mlservers_default_answer_is_the_label(
    mlserver: MLServerPeer, wine_sklearn: WineModel, transport: str
) -> None:
    model = await asyncio.to_thread(
        load_remote, endpoints(mlserver)[transport], model=mlserver.model_name
    )
    try:
        rows = await scored(model, wine_sklearn.features[:50], 25)
    finally:
        model.close()
    assert rows == [{"label": str(c)} for c in wine_sklearn.predict[:50]]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
async def test_mlserver_killed_is_unavailability_and_back_it_answers(
    mlserver: MLServerPeer, wine_sklearn: WineModel, transport: str
) -> None:
    book = EndpointBook(failures_to_open=3, first_probe_s=0.05, max_probe_s=0.5)
    url = endpoints(mlserver)[transport]
    model = await asyncio.to_thread(load_remote, url, book=book, model=mlserver.model_name)
    batch = TypedBatch.of_matrix(model.input_schema, wine_sklearn.features[:10])
    expected = [{"label": str(c)} for c in wine_sklearn.predict[:10]]
    try:
        mlserver.kill()
        for _ in range(5):
            with pytest.raises(ModelUnavailableError):
                await asyncio.to_thread(model.predict, batch)
        assert book.down() == [url]
        await mlserver.restart()
        for _ in range(200):  # until a probe finds it back (gRPC reconnects in its backoff)
            try:
                rows = (await asyncio.to_thread(model.predict, batch)).rows()
                break
            except ModelUnavailableError as exc:
                await asyncio.sleep(exc.retry_after_s)
        else:
            raise AssertionError(f"never back: {model.endpoint_state()}")
        assert rows == expected
        assert model.endpoint_state()["state"] == "up"
    finally:
        model.close()
