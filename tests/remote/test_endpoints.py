"""The endpoint's circuit breaker, call slots and metrics (remote/endpoints.py):
against the scripted server for what reaches it, and with a transport of the test's own for
the concurrency cap. Time is a FakeClock moved by hand."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from service.errors import ModelUnavailableError, ScoringError
from service.oip.messages import InferRequest, InferResponse, ModelMetadata
from service.remote.calls import CallFailed
from service.remote.endpoints import EndpointBook
from tests.fake_clock import FakeClock
from tests.remote.helpers import load_remote, wine_batch
from tests.remote.oip_test_server import OipTestServer, labels_of, oip_test_server


@pytest.fixture
def server() -> Any:
    with oip_test_server() as serving:
        yield serving


def failing(request: dict[str, Any]) -> tuple[int, Any]:
    return 503, {"error": "down for maintenance"}


def forward(clock: FakeClock, seconds: float) -> None:
    asyncio.run(clock.advance(timedelta(seconds=seconds)))


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_the_breaker_opens_after_three_failures_and_a_probe_closes_it(
    server: OipTestServer,
) -> None:
    clock, registry = FakeClock(), CollectorRegistry()
    book = EndpointBook(registry, clock=clock)
    model = load_remote(server.url, book=book)
    batch = wine_batch(model, 5)
    server.script.infer = failing
    for _ in range(3):
        with pytest.raises(ModelUnavailableError, match="503"):
            model.predict(batch)
    assert len(server.infers()) == 3
    state = model.endpoint_state()
    assert state["state"] == "down" and "maintenance" in state["lastError"]
    assert state["since"] == clock.now().isoformat().replace("+00:00", "Z")
    assert book.down() == [server.url]
    assert sample(registry, "modelserve_remote_endpoint_up", endpoint=server.url) == 0

    # Open: calls fail at once, told when the probe is due, and never reach the server.
    for _ in range(5):
        with pytest.raises(ModelUnavailableError, match="is down") as short:
            model.predict(batch)
        assert short.value.retry_after_s == pytest.approx(0.5)
    assert len(server.infers()) == 3

    # A failed probe: one call through, then twice as long to wait.
    forward(clock, 0.5)
    with pytest.raises(ModelUnavailableError, match="503") as probe:
        model.predict(batch)
    assert probe.value.retry_after_s == pytest.approx(1.0)
    assert len(server.infers()) == 4
    with pytest.raises(ModelUnavailableError, match="is down"):
        model.predict(batch)

    # The server back: the next probe closes the breaker.
    server.script.infer = labels_of
    forward(clock, 1.0)
    assert model.predict(batch).labels == ["a"] * 5
    assert model.endpoint_state()["state"] == "up" and book.down() == []
    assert model.predict(batch).labels == ["a"] * 5
    assert len(server.infers()) == 6
    assert sample(registry, "modelserve_remote_endpoint_up", endpoint=server.url) == 1
    calls = "modelserve_remote_calls_total"
    assert sample(registry, calls, endpoint=server.url, outcome="failed") == 4
    assert sample(registry, calls, endpoint=server.url, outcome="short_circuited") == 6
    assert sample(registry, calls, endpoint=server.url, outcome="ok") == 2 + 2  # load's too
    assert sample(registry, "modelserve_remote_call_seconds_count", endpoint=server.url) == 8
    model.close()


def test_the_probe_interval_doubles_up_to_its_bound(server: OipTestServer) -> None:
    clock = FakeClock()
    model = load_remote(server.url, book=EndpointBook(clock=clock))
    batch = wine_batch(model, 1)
    server.script.infer = failing
    waits = []
    for _ in range(3):
        with pytest.raises(ModelUnavailableError) as failed:
            model.predict(batch)
    waits.append(failed.value.retry_after_s)
    for _ in range(7):  # every probe fails
        forward(clock, waits[-1])
        with pytest.raises(ModelUnavailableError) as failed:
            model.predict(batch)
        waits.append(failed.value.retry_after_s)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    model.close()


def test_refusals_do_not_open_the_breaker(server: OipTestServer) -> None:
    registry = CollectorRegistry()
    model = load_remote(server.url, book=EndpointBook(registry, clock=FakeClock()))
    server.script.infer = lambda request: (422, {"error": "bad row"})
    for _ in range(5):
        with pytest.raises(ScoringError, match="bad row"):
            model.predict(wine_batch(model, 2))
    assert model.endpoint_state()["state"] == "up"
    assert len(server.infers()) == 5
    outcome = {"endpoint": server.url, "outcome": "refused"}
    assert registry.get_sample_value("modelserve_remote_calls_total", outcome) == 5
    model.close()


def test_failures_not_in_a_row_do_not_open_it(server: OipTestServer) -> None:
    model = load_remote(server.url, book=EndpointBook(clock=FakeClock()))
    for _ in range(4):
        server.script.infer = failing
        for _ in range(2):
            with pytest.raises(ModelUnavailableError):
                model.predict(wine_batch(model, 1))
        server.script.infer = labels_of
        model.predict(wine_batch(model, 1))
    assert model.endpoint_state()["state"] == "up"
    model.close()


def test_models_of_one_endpoint_share_its_breaker(server: OipTestServer) -> None:
    book = EndpointBook(clock=FakeClock())
    first, second = load_remote(server.url, book=book), load_remote(server.url, book=book)
    server.script.infer = failing
    for _ in range(3):
        with pytest.raises(ModelUnavailableError):
            first.predict(wine_batch(first, 1))
    with pytest.raises(ModelUnavailableError, match="is down"):
        second.predict(wine_batch(second, 1))
    assert second.endpoint_state()["state"] == "down"
    first.close()
    second.close()


def test_calls_in_flight_are_capped_per_endpoint(server: OipTestServer) -> None:
    book = EndpointBook()
    models = [load_remote(server.url, book=book, concurrency=2) for _ in range(2)]
    server.script.hold = hold = threading.Event()
    results: list[Any] = []

    def call(i: int) -> None:
        model = models[i % 2]
        results.append(model.predict(wine_batch(model, 3)).labels)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    while server.in_flight < 2:  # the first two reach the server; the others wait
        threading.Event().wait(0.01)
    hold.set()
    for thread in threads:
        thread.join(10)
    assert results == [["a"] * 3] * 6
    assert server.most_in_flight == 2
    for model in models:
        model.close()


class _Blocking:
    """A transport whose calls wait until released: the endpoint's slots are all taken."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def metadata(self, model: str, version: str | None) -> ModelMetadata:
        raise NotImplementedError

    def ready(self, model: str, version: str | None) -> bool:
        return True

    def infer(self, model: str, version: str | None, request: InferRequest) -> InferResponse:
        self.started.set()
        self.release.wait(10)
        raise CallFailed("released")

    def close(self) -> None:
        pass


def test_a_call_that_finds_no_slot_in_time_is_unavailability() -> None:
    transport = _Blocking()
    registry = CollectorRegistry()
    book = EndpointBook(registry, transports=lambda url, timeout_s, concurrency: transport)
    endpoint = book.acquire("http://remote:1", timeout_s=0.05, concurrency=1)
    first, failures = _infer_in_a_thread(endpoint)
    transport.started.wait(10)
    with pytest.raises(ModelUnavailableError, match="no free call slot"):
        endpoint.call(lambda t: t.infer("m", None, InferRequest([])), "infer")
    transport.release.set()
    first.join(10)
    assert len(failures) == 1  # the blocked call, released as a failure
    labels = {"endpoint": "http://remote:1", "outcome": "busy"}
    assert registry.get_sample_value("modelserve_remote_calls_total", labels) == 1
    assert endpoint.document()["state"] == "up"  # a full endpoint is not a failing one
    book.release(endpoint)


def test_a_call_sent_while_up_that_fails_beside_the_probe_leaves_the_probe_alone() -> None:
    """The endpoint goes down while a call is on its way; the probe goes out; the old call
    fails: that says nothing new, so the probe's wait is not doubled, and no second probe
    is let through while the first is out."""
    clock = FakeClock()
    slow = _Blocking()
    book = EndpointBook(clock=clock, transports=lambda url, timeout_s, concurrency: slow)
    endpoint = book.acquire("http://remote:1", timeout_s=5.0, concurrency=4)
    failing = _refused_connection
    old, late = _infer_in_a_thread(endpoint)
    slow.started.wait(10)
    for _ in range(3):  # three failures: down, the next probe due in 0.5 s
        with pytest.raises(ModelUnavailableError):
            endpoint.call(failing, "infer")
    assert endpoint.document()["state"] == "down"
    forward(clock, 0.5)
    probe_out, probe_done = threading.Event(), threading.Event()

    def probe(t: Any) -> Any:
        probe_out.set()
        probe_done.wait(10)
        raise CallFailed("still down")

    prober = threading.Thread(target=lambda: _swallow(lambda: endpoint.call(probe, "infer")))
    prober.start()
    probe_out.wait(10)
    slow.release.set()  # the call sent while up fails now, beside the probe
    old.join(10)
    assert late and late[0].retry_after_s == pytest.approx(0.01, abs=0.01)  # probe due now
    with pytest.raises(ModelUnavailableError, match="is down"):
        endpoint.call(failing, "infer")  # the probe is still out: no second one goes
    probe_done.set()
    prober.join(10)
    with pytest.raises(ModelUnavailableError, match="is down") as after:
        endpoint.call(failing, "infer")
    assert after.value.retry_after_s == pytest.approx(1.0)  # doubled once, by the probe
    book.release(endpoint)


def _infer_in_a_thread(endpoint: Any) -> tuple[threading.Thread, list[ModelUnavailableError]]:
    """An infer call through ``endpoint`` on a thread of its own, started; the list gets the
    unavailability it ends with, if it does."""
    failures: list[ModelUnavailableError] = []

    def call() -> None:
        try:
            endpoint.call(lambda t: t.infer("m", None, InferRequest([])), "infer")
        except ModelUnavailableError as exc:
            failures.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, failures


def _swallow(call: Any) -> None:
    with contextlib.suppress(ModelUnavailableError):
        call()


def _refused_connection(transport: Any) -> Any:
    raise CallFailed("refused")


def test_an_endpoint_no_model_uses_leaves_the_metrics(server: OipTestServer) -> None:
    registry = CollectorRegistry()
    book = EndpointBook(registry)
    model = load_remote(server.url, book=book)
    model.predict(wine_batch(model, 2))
    assert sample(registry, "modelserve_remote_calls_total", endpoint=server.url, outcome="ok")
    model.close()
    names = {s.labels.get("endpoint") for m in registry.collect() for s in m.samples}
    assert server.url not in names
