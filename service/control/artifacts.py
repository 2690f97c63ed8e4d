"""Model artifacts given by reference: ``file://`` under an allowed root, ``http(s)://`` under
an allowed prefix, or under a trusted prefix (no digest needed; a directory, or a relative
location, as Lightbend's client gives them). Every hop of a redirect is checked against the
allow-list, sizes are capped while reading, and fetched artifacts are cached by digest so
replaying the control log does not fetch them again."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import httpx

from service.control.directory_archive import pack_directory
from service.errors import DescriptorRejectedError, ModelLoadError

MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


def is_allowed(location: str, allowed: list[str]) -> bool:
    """A prefix allows what lies under it, not what merely starts with the same letters:
    ``https://store`` allows ``https://store/m.onnx`` but not ``https://store.evil/m.onnx``."""
    for prefix in allowed:
        if not location.startswith(prefix):
            continue
        rest = location[len(prefix) :]
        if prefix.endswith("/") or rest == "" or rest.startswith(("/", "?")):
            return True
    return False


def has_dot_segments(location: str) -> bool:
    """Whether a URL's path climbs (``..``) or stays (``.``), percent-encoded or not: a client
    resolves them before it asks, so the prefix checked would not be the path fetched."""
    path = unquote(urlparse(location).path)
    return any(segment in (".", "..") for segment in path.split("/"))


def is_relative(location: str) -> bool:
    """A location with no scheme and no leading slash (Lightbend's ``data/saved/1/``)."""
    return not urlparse(location).scheme and not location.startswith("/")


def _under(real: Path, prefixes: list[str]) -> bool:
    """Whether a resolved path lies under one of the ``file://`` prefixes, each resolved."""
    roots = [
        Path(os.path.realpath(unquote(urlparse(p).path)))
        for p in prefixes
        if urlparse(p).scheme == "file"
    ]
    return any(real == root or root in real.parents for root in roots)


class ArtifactStore:
    """``allowed``: prefixes a location may point under, with the artifact's ``sha256``.
    ``trusted``: prefixes of the service's own storage, where whoever runs the service put the
    models: a location under one needs no digest, may be a directory, and a relative location
    resolves against the first of them."""

    def __init__(
        self, allowed: list[str], max_bytes: int, cache_dir: str, trusted: list[str] | None = None
    ) -> None:
        self._trusted = list(trusted or [])
        self._allowed = [*allowed, *self._trusted]
        self._max_bytes = max_bytes
        self._cache_dir = Path(cache_dir)

    def resolve(self, location: str) -> str:
        """The location as an absolute URI: a relative one under the first trusted prefix."""
        if not is_relative(location):
            return location
        if not self._trusted:
            raise DescriptorRejectedError(
                "a relative location needs MODELSERVE_TRUSTED_LOCATIONS to resolve against"
            )
        base = self._trusted[0]
        return urljoin(base if base.endswith("/") else base + "/", location)

    def fetch(self, location: str, sha256: str | None) -> bytes:
        location = self.resolve(location)
        trusted = is_allowed(location, self._trusted)
        if not trusted and sha256 is None:
            raise DescriptorRejectedError(
                "sha256 is required with a location outside MODELSERVE_TRUSTED_LOCATIONS"
            )
        if not is_allowed(location, self._allowed):
            raise DescriptorRejectedError("location is not under an allowed prefix")
        scheme = urlparse(location).scheme
        # A location without a digest must stay under the trusted prefixes, redirects too.
        prefixes = self._trusted if sha256 is None else self._allowed
        if scheme == "file":
            return self._read_file(location, prefixes)
        if scheme not in ("http", "https"):
            raise DescriptorRejectedError(f"location scheme {scheme!r} is not supported")
        if has_dot_segments(location):
            raise DescriptorRejectedError("location has '.' or '..' segments")
        cached = self._cached(sha256)
        if cached is not None:
            return cached
        data = self._download(location, prefixes)
        if sha256 is not None and hashlib.sha256(data).hexdigest() == sha256:
            self._store(sha256, data)
        return data

    # -- file:// ------------------------------------------------------------------------------

    def _read_file(self, location: str, prefixes: list[str]) -> bytes:
        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise DescriptorRejectedError("file:// locations must be local")
        # Resolve `..` and symlinks first, then check the real path is under a real root.
        real = Path(os.path.realpath(unquote(parsed.path)))
        if not _under(real, prefixes):
            raise DescriptorRejectedError("location resolves outside the allowed prefixes")
        if real.is_dir():
            # A directory has no digest of its own to check: trusted storage only.
            if not _under(real, self._trusted):
                raise DescriptorRejectedError(
                    "a directory location must be under MODELSERVE_TRUSTED_LOCATIONS"
                )
            return pack_directory(real, self._max_bytes)
        try:
            with real.open("rb") as handle:
                data = handle.read(self._max_bytes + 1)
        except OSError as exc:
            raise ModelLoadError(f"cannot read location: {exc.strerror}") from exc
        return self._capped(data)

    # -- http(s):// ---------------------------------------------------------------------------

    def _download(self, location: str, prefixes: list[str]) -> bytes:
        try:
            return self._follow(location, prefixes)
        except httpx.HTTPError as exc:
            raise ModelLoadError(f"fetching the location failed: {type(exc).__name__}") from exc

    def _follow(self, location: str, prefixes: list[str]) -> bytes:
        url = location
        with httpx.Client(follow_redirects=False, timeout=TIMEOUT) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if not is_allowed(target, prefixes) or has_dot_segments(target):
                            raise DescriptorRejectedError(
                                "location redirects outside the allowed prefixes"
                            )
                        url = target
                        continue
                    if response.status_code != 200:
                        raise ModelLoadError(
                            f"fetching the location answered {response.status_code}"
                        )
                    declared = response.headers.get("content-length")
                    if (
                        declared is not None
                        and declared.isdigit()
                        and int(declared) > self._max_bytes
                    ):
                        raise DescriptorRejectedError(f"artifact exceeds {self._max_bytes} bytes")
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise DescriptorRejectedError(
                                f"artifact exceeds {self._max_bytes} bytes"
                            )
                        chunks.append(chunk)
                    return b"".join(chunks)
        raise ModelLoadError(f"more than {MAX_REDIRECTS} redirects")

    def _capped(self, data: bytes) -> bytes:
        if len(data) > self._max_bytes:
            raise DescriptorRejectedError(f"artifact exceeds {self._max_bytes} bytes")
        return data

    # -- cache by digest ------------------------------------------------------------------------

    def _cached(self, sha256: str | None) -> bytes | None:
        if sha256 is None:
            return None
        path = self._cache_dir / sha256
        try:
            data = path.read_bytes()
        except OSError:
            return None
        # A damaged cache entry is ignored (and replaced by the next good download).
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def _store(self, sha256: str, data: bytes) -> None:
        try:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self._cache_dir, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, self._cache_dir / sha256)
        except OSError:
            pass  # the cache is an optimisation; a read-only disk must not fail the load
