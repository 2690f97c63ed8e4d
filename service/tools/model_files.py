"""What kind of model a file is, for ``modelserve publish`` without ``--type``: its extension,
and for the archives several runtimes take, what is inside (a ``.zip`` is an H2O MOJO when it
holds ``model.ini``, a TensorFlow SavedModel when it holds ``saved_model.pb``; so is a
``.tar.gz``); a directory holding ``saved_model.pb`` is a SavedModel, published as a tar of it."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from service.control.directory_archive import pack_directory
from service.runtimes.catalog import RUNTIMES, Runtime

SAVED_MODEL = "saved_model.pb"
MOJO_MARKER = "model.ini"
# How deep saved_model.pb may lie: the runtime finds it in one folder inside one folder, and
# so on (``wine/1/saved_model.pb``, as TensorFlow Serving lays models out); the guess looks
# as deep as such layouts go.
_MAX_DEPTH = 4


def guess_runtime(path: Path) -> Runtime | None:
    """The runtime a model file (or directory) belongs to, or None when it cannot be told."""
    if path.is_dir():
        return RUNTIMES.get("TENSORFLOWSAVED") if _holds_saved_model(path) else None
    names = _archive_names(path)
    if names is not None:
        if any(_base(n) == MOJO_MARKER and _depth(n) == 1 for n in names):
            return RUNTIMES.get("H2O")
        if any(_base(n) == SAVED_MODEL and _depth(n) <= _MAX_DEPTH for n in names):
            return RUNTIMES.get("TENSORFLOWSAVED")
        return None
    return RUNTIMES.for_extension(path.suffix)


def read_artifact(path: Path, max_bytes: int = 1 << 31) -> bytes:
    """The bytes to publish: a file's own, or a directory packed as a tar."""
    if path.is_dir():
        return pack_directory(path, max_bytes)
    return path.read_bytes()


def _holds_saved_model(path: Path, depth: int = _MAX_DEPTH) -> bool:
    if (path / SAVED_MODEL).is_file():
        return True
    return depth > 1 and any(
        _holds_saved_model(child, depth - 1) for child in path.iterdir() if child.is_dir()
    )


def _archive_names(path: Path) -> list[str] | None:
    """The member names of a zip or tar file; None for any other file."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.namelist()
        if path.name.endswith((".tar.gz", ".tgz", ".tar")) and tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                return archive.getnames()
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return None
    return None


def _base(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _depth(name: str) -> int:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return len(parts)
