"""REMOTE models against a scripted Open Inference Protocol server (oip_test_server.py): the
allow-list, loading from the server's metadata, one request per batch over one kept-alive
connection, answers as results, and what each failure of the server becomes."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from service.errors import (
    DescriptorRejectedError,
    ModelLoadError,
    ModelUnavailableError,
    ScoringError,
)
from service.inputs.schema import InputSchema, InputSpec, TypedBatch
from service.remote.endpoints import EndpointBook
from service.routing.registry import Registry
from service.runtimes.base import BatchResult
from service.scoring import model_calls
from service.serving.descriptor import ModelDescriptor
from service.tools.devbroker import free_port
from service.wine import WINE_FIELDS
from tests.remote.helpers import load_remote, wine_batch
from tests.remote.oip_test_server import Answer, OipTestServer, oip_test_server


@pytest.fixture
def server() -> Any:
    with oip_test_server() as serving:
        yield serving


def answering(*outputs: dict[str, Any], status: int = 200) -> Any:
    def infer(request: dict[str, Any]) -> Answer:
        return status, {"model_name": "wine", "outputs": list(outputs)}

    return infer


# --- the allow-list and the endpoint ---------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "endpoint"),
    [
        ((), "{url}"),  # empty: none allowed
        (("{url}",), "{url}0"),  # a prefix allows what lies under it, not the same letters
        (("http://127.0.0.1:1",), "{url}"),
        (("{url}",), "{url}/../other"),
        (("http://",), "http://user@127.0.0.1:1"),
    ],
)
def test_an_endpoint_outside_the_allow_list_is_refused_before_any_call(
    server: OipTestServer, allowed: tuple[str, ...], endpoint: str
) -> None:
    prefixes = [a.format(url=server.url) for a in allowed]
    with pytest.raises(DescriptorRejectedError) as refused:
        load_remote(endpoint.format(url=server.url), allowed=prefixes)
    if not prefixes:
        assert "MODELSERVE_ALLOWED_ENDPOINTS" in str(refused.value)
    assert server.requests == []


# --- loading ---------------------------------------------------------------------------------


def test_the_inputs_come_from_the_servers_metadata(server: OipTestServer) -> None:
    model = load_remote(server.url)
    try:
        assert model.input_schema.names == list(WINE_FIELDS)  # [-1, 11] and no `inputs`
        (tensor,) = model.tensor_inputs  # as the server takes them
        assert (tensor.name, tensor.shape, tensor.dtype) == ("input-0", (11,), np.dtype(np.float64))
        assert [p for _, p, _ in server.requests] == ["/v2/models/wine", "/v2/models/wine/ready"]
        assert model.runtime.engine == "remote"
    finally:
        model.close()


def test_several_inputs_of_several_types(server: OipTestServer) -> None:
    server.script.metadata["inputs"] = [
        {"name": "age", "datatype": "INT32", "shape": [-1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1, 1]},
        {"name": "ok", "datatype": "BOOL", "shape": [-1]},
        {"name": "x", "datatype": "FP32", "shape": [-1, 1]},
    ]
    model = load_remote(server.url)
    try:
        types = {s.name: s.type for s in model.input_schema.inputs}
        assert types == {"age": "integer", "city": "string", "ok": "boolean", "x": "float"}
        from service.inputs.conversion import typed_batch

        batch = typed_batch(model.input_schema, [{"age": 7, "city": "Oslo", "ok": True, "x": 0.5}])
        assert model.predict(batch).labels == ["a"]
        sent = {t["name"]: t for t in server.infers()[0]["inputs"]}
        assert sent["age"] == {"name": "age", "datatype": "INT32", "shape": [1], "data": [7]}
        assert sent["city"]["data"] == ["Oslo"] and sent["city"]["shape"] == [1, 1]
        assert sent["ok"]["data"] == [True] and sent["x"]["datatype"] == "FP32"
    finally:
        model.close()


def test_a_width_named_by_inputs_and_a_declared_schema(server: OipTestServer) -> None:
    server.script.metadata["inputs"] = [{"name": "X", "datatype": "FP32", "shape": [-1, 2]}]
    with pytest.raises(ModelLoadError, match="`inputs`"):
        load_remote(server.url)  # two columns, nobody named them
    model = load_remote(server.url, inputs=["a", "b"])
    assert model.input_schema.names == ["a", "b"]
    model.close()
    declared = InputSchema((InputSpec("a", "integer"), InputSpec("b", "double")))
    model = load_remote(server.url, schema=declared)
    assert model.input_schema == declared
    model.close()


def test_without_inputs_in_the_metadata_the_descriptor_says(server: OipTestServer) -> None:
    server.script.metadata["inputs"] = []
    with pytest.raises(ModelLoadError, match="lists no inputs"):
        load_remote(server.url)
    model = load_remote(server.url, inputs=["a", "b"])
    model.predict(wine_batch(model, 3))
    (sent,) = server.infers()[0]["inputs"]
    assert (sent["name"], sent["datatype"], sent["shape"]) == ("input-0", "FP64", [3, 2])
    model.close()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"ready": False}, "not ready"),
        ({"metadata_status": 404}, "does not serve"),
        ({"metadata": {"inputs": "no"}}, "does not serve"),
        ({"metadata_status": 500}, "unavailable"),
    ],
)
def test_a_model_not_served_fails_its_load(
    server: OipTestServer, change: dict[str, Any], why: str
) -> None:
    for key, value in change.items():
        setattr(server.script, key, value)
    with pytest.raises(ModelLoadError, match=why):
        load_remote(server.url)


def test_an_unknown_model_and_an_unreachable_server_fail_the_load(server: OipTestServer) -> None:
    with pytest.raises(ModelLoadError, match="does not serve"):
        load_remote(server.url, model="nope")
    nobody = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    with pytest.raises(ModelLoadError, match="unavailable"):
        load_remote(nobody)


def test_labels_and_probabilities_mapped_need_their_classes(server: OipTestServer) -> None:
    with pytest.raises(DescriptorRejectedError, match="labels"):
        load_remote(server.url, output_map={"label": "predict", "probabilities": "predict_proba"})
    assert server.requests == []


# --- calls -----------------------------------------------------------------------------------


def test_one_request_per_batch_over_one_kept_alive_connection(server: OipTestServer) -> None:
    model = load_remote(server.url)
    try:
        for size in (1, 50, 200):
            assert model.predict(wine_batch(model, size)).labels == ["a"] * size
        shapes = [r["inputs"][0]["shape"] for r in server.infers()]
        assert shapes == [[1, 11], [50, 11], [200, 11]]
        assert len(server.ports) == 1  # load and the three batches: one connection
    finally:
        model.close()


async def test_a_call_never_runs_on_the_event_loop_however_fast_it_was(
    server: OipTestServer,
) -> None:
    """A batch of 200 answered in a few ms is microseconds a row: the engine would run a
    one-row call of such a model inline (scoring/model_calls.py); a network call must not."""
    model = load_remote(server.url)
    serving = Registry().install(REMOTE_DESCRIPTOR, model, "0" * 64)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = model.predict

    def predict(batch: TypedBatch) -> BatchResult:
        threads.append(threading.get_ident())
        return real(batch)

    model.predict = predict  # type: ignore[method-assign]
    try:
        await model_calls.predict(serving, wine_batch(model, 200))
        assert serving.stats.call_ms_per_row is not None
        assert serving.stats.call_ms_per_row < model_calls.INLINE_CALL_MS  # fast, per row
        await model_calls.predict(serving, wine_batch(model, 1))
        assert threads and loop_thread not in threads
    finally:
        model.close()


def test_the_rows_are_sent_as_typed_numbers(server: OipTestServer) -> None:
    model = load_remote(server.url)
    batch = wine_batch(model, 4)
    model.predict(batch)
    (sent,) = server.infers()[0]["inputs"]
    assert sent["datatype"] == "FP64"
    assert np.array_equal(np.asarray(sent["data"]).reshape(4, 11), batch.matrix())
    model.close()


def test_a_server_that_answers_a_wrong_number_of_rows_is_a_scoring_error(
    server: OipTestServer,
) -> None:
    server.script.infer = answering(
        {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["a"]}
    )
    model = load_remote(server.url)
    with pytest.raises(ScoringError, match="not one row per record"):
        model.predict(wine_batch(model, 3))
    model.close()


def test_a_refusal_is_a_scoring_error_with_the_servers_message(server: OipTestServer) -> None:
    server.script.infer = lambda request: (400, {"error": "input-0: 11 columns expected"})
    model = load_remote(server.url)
    with pytest.raises(ScoringError, match="11 columns expected"):
        model.predict(wine_batch(model, 3))
    assert model.endpoint_state()["state"] == "up"
    model.close()


def test_a_refusal_while_the_model_is_not_ready_is_unavailability(
    server: OipTestServer,
) -> None:
    """MLServer answers 400 "not ready yet" while it loads the model, 404 before."""
    model = load_remote(server.url)
    server.script.ready = False
    server.script.infer = lambda request: (400, {"error": "Model wine is not ready yet."})
    with pytest.raises(ModelUnavailableError, match="not ready"):
        model.predict(wine_batch(model, 3))
    server.script.infer = lambda request: (404, {"error": "Model wine not found"})
    with pytest.raises(ModelUnavailableError):
        model.predict(wine_batch(model, 3))
    model.close()


@pytest.mark.parametrize("status", [500, 502, 503, 307, 408, 425, 429])
def test_a_failing_server_is_unavailability(server: OipTestServer, status: int) -> None:
    server.script.infer = lambda request: (status, {"error": "overloaded"})
    model = load_remote(server.url)
    with pytest.raises(ModelUnavailableError, match=str(status)) as failed:
        model.predict(wine_batch(model, 3))
    assert failed.value.retry_after_s > 0
    assert model.endpoint_state()["lastError"] is not None
    model.close()


def test_a_slow_server_times_out_as_unavailability(server: OipTestServer) -> None:
    model = load_remote(server.url, timeout_s=0.2)
    server.script.hold = threading.Event()  # never set before the call gives up
    with pytest.raises(ModelUnavailableError, match="timed out"):
        model.predict(wine_batch(model, 3))
    server.script.hold.set()
    model.close()


def test_a_server_that_trickles_its_answer_times_out_as_a_whole(server: OipTestServer) -> None:
    """Each byte well within httpx's read time-out, the answer far past the call's."""
    model = load_remote(server.url, timeout_s=0.3)
    server.script.trickle_s = 0.05
    with pytest.raises(ModelUnavailableError, match="within the time-out"):
        model.predict(wine_batch(model, 3))
    server.script.trickle_s = None
    model.close()


def test_a_server_gone_is_unavailability(server: OipTestServer) -> None:
    model = load_remote(server.url)
    server.stop()
    with pytest.raises(ModelUnavailableError):
        model.predict(wine_batch(model, 3))
    model.close()


def test_close_releases_the_endpoint_with_its_last_model(server: OipTestServer) -> None:
    book = EndpointBook()
    first, second = load_remote(server.url, book=book), load_remote(server.url, book=book)
    assert [s["url"] for s in book.states()] == [server.url]
    first.close()
    first.close()  # once is enough
    assert second.predict(wine_batch(second, 2)).labels == ["a", "a"]
    second.close()
    assert book.states() == []


REMOTE_DESCRIPTOR = ModelDescriptor.model_validate(
    {
        "name": "far",
        "version": 1,
        "dataType": "wine",
        "modelType": "REMOTE",
        "endpoint": "http://127.0.0.1:1",
        "remoteModel": "wine",
    }
)
