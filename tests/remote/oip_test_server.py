"""A tiny Open Inference Protocol REST server in a thread, answering as a test scripts it:
metadata and readiness of one model, and ``infer`` by a function of the request's JSON (a
status and a body: 503s, 400s with ``{"error": ...}``, answers that are not answers). It
counts the requests, the connections they came on and the calls in flight at once, and can
hold answers back (slow answers, for time-outs and the concurrency cap)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any]  # status, and a JSON document (or bytes as they are)

WINE_METADATA = {
    "name": "wine",
    "versions": ["1"],
    "platform": "test",
    "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 11]}],
    "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1]}],
}


def labels_of(request: dict[str, Any]) -> Answer:
    """A modelserve peer's answer: label "a" for every row."""
    rows = request["inputs"][0]["shape"][0]
    return 200, {
        "model_name": "wine",
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [rows], "data": ["a"] * rows}],
    }


@dataclass
class Script:
    metadata: Any = field(default_factory=lambda: dict(WINE_METADATA))
    metadata_status: int = 200
    ready: bool = True
    infer: Callable[[dict[str, Any]], Answer] = labels_of
    hold: threading.Event | None = None  # infer waits for it (at most 10 s) when set
    trickle_s: float | None = None  # infer's answer sent a byte at a time, this far apart


class OipTestServer:
    def __init__(self, model: str = "wine") -> None:
        self.model = model
        self.script = Script()
        self.requests: list[tuple[str, str, bytes]] = []
        self.ports: set[int] = set()  # the client ports requests came from: connections
        self.in_flight = 0
        self.most_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def infers(self) -> list[dict[str, Any]]:
        return [json.loads(body) for method, path, body in self.requests if method == "POST"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def do_GET(self) -> None:
                self._record(b"")
                base = f"/v2/models/{server.model}"
                path = self.path.replace("/versions/1", "")
                if path == base:
                    script = server.script
                    self._send(script.metadata_status, script.metadata)
                elif path == f"{base}/ready":
                    self._send(200 if server.script.ready else 503, {})
                else:
                    self._send(404, {"error": f"no {self.path}"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                self._record(body)
                if self.path.replace("/versions/1", "") != f"/v2/models/{server.model}/infer":
                    self._send(404, {"error": f"Model {self.path} not found"})
                    return
                with server._lock:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    if server.script.hold is not None:
                        server.script.hold.wait(10.0)
                    status, document = server.script.infer(json.loads(body))
                finally:
                    with server._lock:
                        server.in_flight -= 1
                self._send(status, document, server.script.trickle_s)

            def _record(self, body: bytes) -> None:
                with server._lock:
                    server.requests.append((self.command, self.path, body))
                    server.ports.add(self.client_address[1])

            def _send(self, status: int, document: Any, trickle_s: float | None = None) -> None:
                data = document if isinstance(document, bytes) else json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    if trickle_s is None:
                        self.wfile.write(data)
                        return
                    for i in range(len(data)):  # each read of the client's well in its time
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(trickle_s)
                except OSError:  # the client gave up (a time-out)
                    pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self.script.hold is not None:
            self.script.hold.set()
        self._http.shutdown()
        self._http.server_close()
        with self._lock:  # kept-alive connections too: the server is gone
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def oip_test_server(model: str = "wine") -> Iterator[OipTestServer]:
    server = OipTestServer(model)
    server.start()
    try:
        yield server
    finally:
        server.stop()
