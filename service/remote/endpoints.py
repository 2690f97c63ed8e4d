"""The remote endpoints of a process, in one book (made by the composition root and passed
to the loader as ``LoadOptions.endpoints``): per endpoint one connection (remote_rest.py,
remote_grpc.py) shared by every model there, a cap on the calls in flight, and a circuit
breaker. After ``failures_to_open`` failures in a row the endpoint is down: calls fail at once
(ModelUnavailableError, retry after the time to the next probe) without reaching the server,
and once a probe interval has passed (doubling from ``first_probe_s`` to ``max_probe_s``) one
call goes through; its success brings the endpoint up. A refusal (4xx) is an answer: the
server is there."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.clock import Clock, SystemClock, iso
from service.errors import ModelUnavailableError, sanitise
from service.remote.calls import CallFailed, CallRefused, Transport

T = TypeVar("T")


# What a call may end in (the label ``outcome`` of modelserve_remote_calls_total).
OUTCOMES = ("ok", "refused", "bad_answer", "failed", "short_circuited", "busy")


class EndpointMetrics:
    """The book's collectors, on the registry it is given (the service's: /metrics)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "modelserve_remote_calls",
            "Calls to remote models' servers, by outcome: ok, refused (4xx), bad_answer, "
            "failed (unreachable, 5xx, time-out), short_circuited (breaker open), busy "
            "(no slot in time).",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "modelserve_remote_call_seconds",
            "Time of calls that reached a remote server.",
            ["endpoint"],
            registry=registry,
        )
        self.up = Gauge(
            "modelserve_remote_endpoint_up",
            "1 while a remote endpoint's breaker is closed, 0 while it is open.",
            ["endpoint"],
            registry=registry,
        )

    def forget(self, url: str) -> None:
        """An endpoint no model uses any more leaves /metrics: the series do not grow with
        every endpoint ever published."""
        for outcome in OUTCOMES:
            with suppress(KeyError):
                self.calls.remove(url, outcome)
        for family in (self.seconds, self.up):
            with suppress(KeyError):
                family.remove(url)


class Endpoint:
    """One server's state, connection, slots and breaker. Thread-safe: predicts run in
    worker threads."""

    def __init__(
        self, url: str, transport: Transport, concurrency: int, timeout_s: float, book: EndpointBook
    ) -> None:
        self.url = url
        self.transport = transport
        self._timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._book = book
        self._lock = threading.Lock()
        self.refs = 0
        self.state = "up"
        self.since = book.clock.now()
        self.last_error: str | None = None
        self.failures = 0  # in a row
        self._backoff_s = book.first_probe_s
        self._next_probe: datetime | None = None  # while down
        self._probing = False
        if book.metrics is not None:
            book.metrics.up.labels(url).set(1)

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.url,
                "state": self.state,
                "since": iso(self.since),
                "lastError": self.last_error,
            }

    def call(self, action: Callable[[Transport], T], what: str) -> T:
        """``action`` on the connection, through the breaker and the slots: its result, or
        CallRefused (the server's refusal), or ModelUnavailableError (no answer)."""
        probe = self._admit(what)
        if not self._slots.acquire(timeout=self._timeout_s):
            if probe:
                self._abandon_probe()
            self._count("busy")
            raise ModelUnavailableError(
                f"{self.url}: {what}: no free call slot in {self._timeout_s:g} s "
                "(MODELSERVE_REMOTE_CONCURRENCY calls in flight)",
                self._book.first_probe_s,
            )
        started = time.perf_counter()
        try:
            result = action(self.transport)
        except CallRefused as exc:
            self._answered(exc.outcome, started)
            raise
        except CallFailed as exc:
            retry_after = self._failed(f"{what}: {exc}", started, probe)
            raise ModelUnavailableError(f"{self.url}: {what}: {exc}", retry_after) from None
        except BaseException as exc:  # a bug: counted as a failure, raised as it is
            self._failed(f"{what}: {type(exc).__name__}: {exc}", started, probe)
            raise
        finally:
            self._slots.release()
        self._answered("ok", started)
        return result

    def _admit(self, what: str) -> bool:
        """Whether the call may go (else ModelUnavailableError), and whether it is the probe
        of an endpoint that is down (half-open)."""
        with self._lock:
            if self.state == "up":
                return False
            now = self._book.clock.now()
            assert self._next_probe is not None
            if not self._probing and now >= self._next_probe:
                self._probing = True  # half-open: this call is the probe
                return True
            wait = max((self._next_probe - now).total_seconds(), 0.0)
            retry_after = wait if not self._probing else self._book.first_probe_s
        self._count("short_circuited")
        raise ModelUnavailableError(
            f"{self.url} is down since {iso(self.since)} ({self.last_error}): {what} not sent",
            max(retry_after, 0.01),
        )

    def _abandon_probe(self) -> None:
        with self._lock:
            self._probing = False

    def _answered(self, outcome: str, started: float) -> None:
        self._observe(outcome, started)
        with self._lock:
            self.failures = 0
            self._probing = False
            if self.state == "down":
                self.state, self.since = "up", self._book.clock.now()
                self._backoff_s, self._next_probe = self._book.first_probe_s, None
                if self._book.metrics is not None:
                    self._book.metrics.up.labels(self.url).set(1)

    def _failed(self, error: str, started: float, probe: bool) -> float:
        """Counts a failure; the time to wait before the next call. Only the probe's own
        failure lengthens the wait: a call sent before the endpoint went down (or beside the
        probe) that fails says nothing new."""
        self._observe("failed", started)
        with self._lock:
            now = self._book.clock.now()
            self.failures += 1
            self.last_error = sanitise(error)
            if self.state == "down" and not probe:
                assert self._next_probe is not None
                return max((self._next_probe - now).total_seconds(), 0.01)
            if self.state == "down":  # the probe failed: wait longer
                self._backoff_s = min(self._backoff_s * 2, self._book.max_probe_s)
            elif self.failures >= self._book.failures_to_open:
                self.state, self.since = "down", now
                self._backoff_s = self._book.first_probe_s
                if self._book.metrics is not None:
                    self._book.metrics.up.labels(self.url).set(0)
            else:
                return self._book.first_probe_s
            self._probing = False
            self._next_probe = now + timedelta(seconds=self._backoff_s)
            return self._backoff_s

    def _observe(self, outcome: str, started: float) -> None:
        if self._book.metrics is not None:
            self._book.metrics.seconds.labels(self.url).observe(time.perf_counter() - started)
        self._count(outcome)

    def _count(self, outcome: str) -> None:
        if self._book.metrics is not None:
            self._book.metrics.calls.labels(self.url, outcome).inc()


class EndpointBook:
    """Every remote endpoint in use in the process, by URL; one Endpoint per URL, held while a
    model uses it (``acquire``/``release``), its connection closed with the last."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        clock: Clock | None = None,
        failures_to_open: int = 3,
        first_probe_s: float = 0.5,
        max_probe_s: float = 10.0,
        transports: Callable[[str, float, int], Transport] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.metrics = EndpointMetrics(registry) if registry is not None else None
        self.failures_to_open = failures_to_open
        self.first_probe_s = first_probe_s
        self.max_probe_s = max_probe_s
        self._transports = transports or open_transport
        self._endpoints: dict[str, Endpoint] = {}
        self._lock = threading.Lock()

    def acquire(self, url: str, timeout_s: float, concurrency: int) -> Endpoint:
        """The endpoint of ``url``, opened by its first model (with that model's time-out and
        cap: the process's settings, the same for all)."""
        with self._lock:
            endpoint = self._endpoints.get(url)
            if endpoint is None:
                transport = self._transports(url, timeout_s, concurrency)
                endpoint = Endpoint(url, transport, concurrency, timeout_s, self)
                self._endpoints[url] = endpoint
            endpoint.refs += 1
            return endpoint

    def release(self, endpoint: Endpoint) -> None:
        with self._lock:
            endpoint.refs -= 1
            if endpoint.refs > 0 or self._endpoints.get(endpoint.url) is not endpoint:
                return
            del self._endpoints[endpoint.url]
            if self.metrics is not None:
                self.metrics.forget(endpoint.url)
        endpoint.transport.close()

    def states(self) -> list[dict[str, Any]]:
        """Each endpoint in use: {"url", "state": "up" | "down", "since", "lastError"}."""
        with self._lock:
            endpoints = sorted(self._endpoints.values(), key=lambda e: e.url)
        return [e.document() for e in endpoints]

    def down(self) -> list[str]:
        """The endpoints whose breaker is open (/health/ready names them)."""
        return [s["url"] for s in self.states() if s["state"] == "down"]

    def close(self) -> None:
        with self._lock:
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            endpoint.transport.close()


def open_transport(url: str, timeout_s: float, concurrency: int) -> Transport:
    """The connection of an endpoint URL: gRPC for ``grpc://``, else REST."""
    parsed = urlparse(url)
    if parsed.scheme == "grpc":
        from service.remote.grpc_transport import GrpcTransport

        return GrpcTransport(parsed.netloc, timeout_s)
    from service.remote.rest import RestTransport

    return RestTransport(url, timeout_s, concurrency)
