"""Artifacts by reference, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from service.control.artifacts import ArtifactStore, is_allowed
from service.errors import DescriptorRejectedError, ModelLoadError

BODY = b"model-bytes" * 100
DIGEST = hashlib.sha256(BODY).hexdigest()


class Handler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        routes = {
            "/models/m.onnx": (200, BODY, {}),
            "/elsewhere/m.onnx": (200, BODY, {}),
            "/models/hop": (302, b"", {"Location": "/models/m.onnx"}),
            "/models/escape": (302, b"", {"Location": "/elsewhere/m.onnx"}),
            "/models/big": (200, b"x" * 5000, {}),
            "/models/missing": (404, b"", {}),
        }
        status, body, headers = routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def store(base: str, tmp_path: Path, max_bytes: int = 4096) -> ArtifactStore:
    return ArtifactStore(
        [f"{base}/models/", f"file://{tmp_path}/ok"], max_bytes, str(tmp_path / "cache")
    )


def test_prefixes_allow_only_what_is_under_them() -> None:
    allowed = ["https://store", "file:///srv/models/"]
    assert is_allowed("https://store/m.onnx", allowed)
    assert not is_allowed("https://store.evil.example/m.onnx", allowed)
    assert not is_allowed("https://storefront/m.onnx", allowed)
    assert is_allowed("file:///srv/models/a/b.onnx", allowed)
    assert not is_allowed("file:///srv/models-old/b.onnx", allowed)
    assert not is_allowed("file:///etc/passwd", allowed)


def test_http_fetch_follows_allowed_redirects_and_caches_by_digest(
    server: str, tmp_path: Path
) -> None:
    s = store(server, tmp_path)
    Handler.hits.clear()
    assert s.fetch(f"{server}/models/hop", DIGEST) == BODY
    assert Handler.hits == ["/models/hop", "/models/m.onnx"]
    assert (tmp_path / "cache" / DIGEST).read_bytes() == BODY
    assert s.fetch(f"{server}/models/m.onnx", DIGEST) == BODY
    assert Handler.hits == ["/models/hop", "/models/m.onnx"]  # served from the cache


def test_http_refusals(server: str, tmp_path: Path) -> None:
    s = store(server, tmp_path)
    with pytest.raises(DescriptorRejectedError, match="redirects outside"):
        s.fetch(f"{server}/models/escape", None)
    with pytest.raises(DescriptorRejectedError, match="not under an allowed prefix"):
        s.fetch(f"{server}/elsewhere/m.onnx", None)
    with pytest.raises(DescriptorRejectedError, match="exceeds"):
        s.fetch(f"{server}/models/big", None)
    with pytest.raises(ModelLoadError, match="404"):
        s.fetch(f"{server}/models/missing", None)
    with pytest.raises(ModelLoadError):
        ArtifactStore(["http://127.0.0.1:9/"], 100, str(tmp_path)).fetch(
            "http://127.0.0.1:9/m", None
        )


def test_a_damaged_cache_entry_is_not_trusted(server: str, tmp_path: Path) -> None:
    s = store(server, tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / DIGEST).write_bytes(b"tampered")
    assert s.fetch(f"{server}/models/m.onnx", DIGEST) == BODY


def test_file_locations_resolve_before_the_check(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "m.onnx").write_bytes(BODY)
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "ok" / "link").symlink_to(tmp_path / "secret")
    s = store("http://unused", tmp_path)
    assert s.fetch(f"file://{tmp_path}/ok/m.onnx", None) == BODY
    for sneaky in (
        f"file://{tmp_path}/ok/../secret",
        f"file://{tmp_path}/ok/link",
        f"file://{tmp_path}/ok%2F..%2Fsecret",
    ):
        with pytest.raises(DescriptorRejectedError):
            s.fetch(sneaky, None)
    with pytest.raises(DescriptorRejectedError):
        s.fetch("file:///etc/passwd", None)
    with pytest.raises(ModelLoadError):
        s.fetch(f"file://{tmp_path}/ok/absent.onnx", None)
