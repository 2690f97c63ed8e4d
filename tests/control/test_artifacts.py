"""Artifacts by reference, against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import io
import tarfile
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
# A digest the store does not check (the loader does, once it has the bytes): a location
# outside the trusted prefixes must come with one.
SOME = "0" * 64


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
            "/trusted/m.onnx": (200, BODY, {}),
            "/trusted/hop-out": (302, b"", {"Location": "/models/m.onnx"}),
            "/admin/secret": (200, b"secret", {}),
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
        s.fetch(f"{server}/models/escape", SOME)
    with pytest.raises(DescriptorRejectedError, match="not under an allowed prefix"):
        s.fetch(f"{server}/elsewhere/m.onnx", SOME)
    with pytest.raises(DescriptorRejectedError, match="exceeds"):
        s.fetch(f"{server}/models/big", SOME)
    with pytest.raises(ModelLoadError, match="404"):
        s.fetch(f"{server}/models/missing", SOME)
    with pytest.raises(ModelLoadError):
        ArtifactStore(["http://127.0.0.1:9/"], 100, str(tmp_path)).fetch(
            "http://127.0.0.1:9/m", SOME
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
    assert s.fetch(f"file://{tmp_path}/ok/m.onnx", SOME) == BODY
    for sneaky in (
        f"file://{tmp_path}/ok/../secret",
        f"file://{tmp_path}/ok/link",
        f"file://{tmp_path}/ok%2F..%2Fsecret",
    ):
        with pytest.raises(DescriptorRejectedError):
            s.fetch(sneaky, SOME)
    with pytest.raises(DescriptorRejectedError):
        s.fetch("file:///etc/passwd", SOME)
    with pytest.raises(ModelLoadError):
        s.fetch(f"file://{tmp_path}/ok/absent.onnx", SOME)


def test_a_location_outside_the_trusted_prefixes_needs_its_digest(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "m.onnx").write_bytes(BODY)
    with pytest.raises(DescriptorRejectedError, match="sha256 is required"):
        store("http://unused", tmp_path).fetch(f"file://{tmp_path}/ok/m.onnx", None)


def trusted_store(tmp_path: Path, max_bytes: int = 1 << 20) -> ArtifactStore:
    return ArtifactStore(
        [], max_bytes, str(tmp_path / "cache"), trusted=[f"file://{tmp_path}/models/"]
    )


def saved_model_dir(root: Path) -> Path:
    folder = root / "models" / "data" / "saved" / "1"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


def test_trusted_locations_need_no_digest_resolve_relative_ones_and_pack_directories(
    tmp_path: Path,
) -> None:
    folder = saved_model_dir(tmp_path)
    s = trusted_store(tmp_path)
    assert s.resolve("data/saved/1/") == f"file://{tmp_path}/models/data/saved/1/"
    packed = s.fetch("data/saved/1/", None)  # Lightbend's own location, relative
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        assert sorted(archive.getnames()) == [
            "saved_model.pb",
            "variables",
            "variables/variables.index",
        ]
        member = archive.extractfile("variables/variables.index")
        assert member is not None and member.read() == b"index"
    # Packed the same way every time: its digest names it.
    assert s.fetch(f"file://{folder}", None) == packed
    (folder / "m.onnx").write_bytes(BODY)
    assert s.fetch("data/saved/1/m.onnx", None) == BODY


def test_what_trust_does_not_allow(tmp_path: Path) -> None:
    folder = saved_model_dir(tmp_path)
    (tmp_path / "secret").write_bytes(b"secret")
    with pytest.raises(DescriptorRejectedError, match="MODELSERVE_TRUSTED_LOCATIONS"):
        ArtifactStore([], 100, str(tmp_path)).fetch("data/saved/1/", None)
    # A relative location that climbs out of the trusted prefix is not trusted any more.
    with pytest.raises(DescriptorRejectedError, match="sha256 is required"):
        trusted_store(tmp_path).fetch("../secret", None)
    with pytest.raises(DescriptorRejectedError, match="not under an allowed prefix"):
        trusted_store(tmp_path).fetch("../secret", SOME)
    with pytest.raises(DescriptorRejectedError, match="exceeds"):
        trusted_store(tmp_path, max_bytes=6).fetch("data/saved/1/", None)
    # A directory is read as its own files only, never through a link.
    (folder / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(DescriptorRejectedError, match="symbolic link"):
        trusted_store(tmp_path).fetch("data/saved/1/", None)
    # A directory merely allowed (not trusted) has no digest to check it by: refused.
    allowed = ArtifactStore([f"file://{tmp_path}/models/"], 1 << 20, str(tmp_path))
    with pytest.raises(DescriptorRejectedError, match="directory location must be under"):
        allowed.fetch(f"file://{tmp_path}/models/data/saved/", SOME)


def test_a_trusted_url_cannot_climb_out_or_redirect_past_its_prefix(
    server: str, tmp_path: Path
) -> None:
    s = ArtifactStore(
        [f"{server}/models/"], 4096, str(tmp_path / "cache"), trusted=[f"{server}/trusted/"]
    )
    assert s.fetch(f"{server}/trusted/m.onnx", None) == BODY  # no digest needed there
    # The client would resolve the dot segments and ask for /admin/secret: refused first.
    for sneaky in (f"{server}/trusted/../admin/secret", f"{server}/trusted/%2e%2e/admin/secret"):
        with pytest.raises(DescriptorRejectedError, match="segments"):
            s.fetch(sneaky, None)
    # Without a digest, a redirect must stay in trusted storage; with one, the allow-list.
    with pytest.raises(DescriptorRejectedError, match="redirects outside"):
        s.fetch(f"{server}/trusted/hop-out", None)
    assert s.fetch(f"{server}/trusted/hop-out", DIGEST) == BODY
