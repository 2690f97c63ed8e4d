"""MLServer 1.7.1 as the tests start it (mlserver_peer.py): it serves the wine classifier
trained in its environment and answers as that classifier does, over REST and gRPC, to our
requests and to other people's clients; killed, it restarts where it was."""

from __future__ import annotations

import httpx
import pytest

from tests.peers import MLServerPeer, WineModel
from tests.peers.clients import CLIENTS, infer_with

ROWS = 3


def wine_request(model: WineModel, *outputs: str) -> dict[str, object]:
    rows = model.features[:ROWS]
    return {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": [ROWS, 11],
                "data": [value for row in rows for value in row],
            }
        ],
        "outputs": [{"name": name} for name in outputs],
    }


async def test_health_and_metadata(mlserver: MLServerPeer) -> None:
    async with httpx.AsyncClient(base_url=mlserver.http_url) as client:
        for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/wine/ready"):
            answer = await client.get(path)
            # An empty 200 (the protocol's REST health answers carry no body here).
            assert (answer.status_code, answer.content) == (200, b""), path
        server = (await client.get("/v2")).json()
        metadata = await client.get(f"/v2/models/{mlserver.model_name}")
        unknown = await client.get("/v2/models/nope")
    assert server == {"name": "mlserver", "version": "1.7.1", "extensions": []}
    assert metadata.status_code == 200
    assert metadata.json() == {
        "name": "wine",
        "versions": [],  # model-settings' own "versions" list, not parameters.version
        "platform": "",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 11]}],
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1, 1]}],
        "parameters": {},
    }
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Model nope not found"})


async def test_rest_infer_answers_as_sklearn(
    mlserver: MLServerPeer, wine_sklearn: WineModel
) -> None:
    async with httpx.AsyncClient(base_url=mlserver.http_url) as client:
        answer = await client.post(
            f"/v2/models/{mlserver.model_name}/infer",
            json={"id": "rest-1", **wine_request(wine_sklearn, "predict", "predict_proba")},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("wine", "1", "rest-1")
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["datatype"] == "INT64"
    assert outputs["predict"]["shape"] == [ROWS, 1]
    assert outputs["predict"]["data"] == wine_sklearn.predict[:ROWS]
    assert outputs["predict_proba"]["datatype"] == "FP64"
    assert outputs["predict_proba"]["shape"] == [ROWS, len(wine_sklearn.classes)]
    expected = [p for row in wine_sklearn.predict_proba[:ROWS] for p in row]
    assert outputs["predict_proba"]["data"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("client", CLIENTS)
async def test_other_clients_get_sklearn_answers(
    mlserver: MLServerPeer, wine_sklearn: WineModel, client: str
) -> None:
    target = (
        mlserver.grpc_target
        if client.endswith("grpc")
        else mlserver.http_url.removeprefix("http://")
    )
    answer = await infer_with(
        client,
        target,
        mlserver.model_name,
        wine_sklearn.features[:ROWS],
        outputs=("predict", "predict_proba"),
    )
    assert answer["predict"] == wine_sklearn.predict[:ROWS]
    expected = [p for row in wine_sklearn.predict_proba[:ROWS] for p in row]
    assert answer["predict_proba"] == pytest.approx(expected, abs=1e-12)


async def test_killed_and_restarted(mlserver: MLServerPeer, wine_sklearn: WineModel) -> None:
    before = mlserver.pid
    mlserver.kill()
    async with httpx.AsyncClient(base_url=mlserver.http_url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/v2/health/live")
        await mlserver.restart()
        answer = await client.post(
            f"/v2/models/{mlserver.model_name}/infer", json=wine_request(wine_sklearn)
        )
    assert mlserver.pid != before
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == wine_sklearn.predict[:ROWS]
