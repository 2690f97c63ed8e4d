"""A SavedModel arrives as one archive (a ``.tar.gz``, a plain ``.tar`` — which is how a
directory by reference reaches the runtime — or a ``.zip``), told apart by its first bytes.
It is extracted into a private temporary directory, and nothing in it may reach outside that
directory or fill the disk:

- names that are absolute or climb out (``..``) are refused;
- a link (symbolic or hard) is refused when it points outside the archive; one that points
  to a file inside becomes a copy of that file (TensorFlow follows no links it needs);
- devices, pipes and sparse files are refused;
- what is extracted is capped: ``extraction_limit`` (16 times the artifact, at least 64 MiB,
  at most 2 GiB), counted as bytes are written, not as the headers declare them, and at most
  10,000 entries.

``saved_model.pb`` is looked for at the archive's root, or inside its one folder (and that
folder's one folder, and so on: ``wine/1/saved_model.pb`` as TensorFlow Serving lays a
model out)."""

from __future__ import annotations

import io
import posixpath
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from service.errors import ModelLoadError

MIB = 1 << 20
MAX_ENTRIES = 10_000
_CHUNK = MIB
# A SavedModel's variables are floats, which compress little; 16x leaves room for weights
# that are mostly zeros, and the floor lets a small archive hold a model of any sensible size.
_RATIO, _FLOOR, _CEILING = 16, 64 * MIB, 2048 * MIB
_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_IGNORED = ("__MACOSX",)  # what macOS's archiver adds beside the folder
_DEPTH = 4


def extraction_limit(artifact_size: int) -> int:
    return min(_CEILING, max(_FLOOR, _RATIO * artifact_size))


@dataclass
class ExtractedSavedModel:
    """The extracted archive; ``model_dir`` holds ``saved_model.pb``. ``close()`` removes it
    (and so does garbage collection, should a failure skip ``close``)."""

    directory: tempfile.TemporaryDirectory[str]
    model_dir: Path

    def close(self) -> None:
        self.directory.cleanup()


def extract_saved_model(artifact: bytes, limit: int | None = None) -> ExtractedSavedModel:
    limit = extraction_limit(len(artifact)) if limit is None else limit
    directory = tempfile.TemporaryDirectory(prefix="modelserve-savedmodel-")
    root = Path(directory.name)
    try:
        _extract(artifact, root, _Budget(limit))
        return ExtractedSavedModel(directory, _model_dir(root))
    except ModelLoadError:
        directory.cleanup()
        raise
    except Exception as exc:  # tarfile, zipfile, zlib and the file system: many classes
        directory.cleanup()
        raise ModelLoadError(f"cannot extract the SavedModel archive: {exc}") from exc


@dataclass
class _Budget:
    limit: int
    written: int = 0
    entries: int = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise ModelLoadError(f"the archive has more than {MAX_ENTRIES:,} entries")

    def take(self, size: int) -> None:
        self.written += size
        if self.written > self.limit:
            raise ModelLoadError(
                f"the archive extracts to more than {self.limit:,} bytes, the limit for an "
                "artifact of its size"
            )


@dataclass
class _Extraction:
    root: Path
    budget: _Budget
    links: list[tuple[str, str]] = field(default_factory=list)  # (name, target inside)

    def directory(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)

    def file(self, name: str, source: IO[bytes]) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            while chunk := source.read(_CHUNK):
                self.budget.take(len(chunk))
                out.write(chunk)

    def link(self, name: str, target: str, symbolic: bool) -> None:
        """A link is kept to copy once every file is out, when its target is inside."""
        if target.startswith("/") or not target:
            raise ModelLoadError(f"the archive's link {name!r} points outside it ({target!r})")
        # A symbolic link's target is relative to its folder; a hard link's to the root.
        base = posixpath.dirname(name) if symbolic else ""
        self.links.append((name, _inside(posixpath.join(base, target), f"link {name!r}")))

    def copy_links(self) -> None:
        for name, target in self.links:
            source = self.root / target
            if not source.is_file() or source.is_symlink():
                raise ModelLoadError(
                    f"the archive's link {name!r} points to {target!r}, which is not a file in it"
                )
            with source.open("rb") as data:
                self.file(name, data)


def _extract(artifact: bytes, root: Path, budget: _Budget) -> None:
    extraction = _Extraction(root, budget)
    head = artifact[:512]
    if head.startswith(b"\x1f\x8b"):
        _from_tar(io.BytesIO(artifact), "r:gz", extraction)
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _from_zip(io.BytesIO(artifact), extraction)
    elif head[257:262] == b"ustar":
        _from_tar(io.BytesIO(artifact), "r:", extraction)
    else:
        raise ModelLoadError(
            "a TENSORFLOWSAVED artifact is a SavedModel archived as .tar.gz, .tar or .zip; "
            f"these bytes are none of them (they start {artifact[:8]!r})"
        )
    extraction.copy_links()


def _from_tar(data: IO[bytes], mode: str, extraction: _Extraction) -> None:
    with tarfile.open(fileobj=data, mode=mode) as archive:  # type: ignore[call-overload]
        for member in _members(archive):
            extraction.budget.entry()
            name = _inside(member.name, f"entry {member.name!r}")
            if name == ".":
                continue
            if member.isdir():
                extraction.directory(name)
            elif member.issym() or member.islnk():
                extraction.link(name, member.linkname, symbolic=member.issym())
            elif member.isreg() and not member.issparse():
                # Refused on what the header declares before tarfile reads past it (a gzip
                # bomb costs nothing), and counted again as written.
                if extraction.budget.written + member.size > extraction.budget.limit:
                    extraction.budget.take(member.size)
                source = archive.extractfile(member)
                assert source is not None  # a regular file's data
                extraction.file(name, source)
            else:
                raise ModelLoadError(f"the archive's entry {member.name!r} is not a file")


def _members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def _from_zip(data: IO[bytes], extraction: _Extraction) -> None:
    with zipfile.ZipFile(data) as archive:
        for info in archive.infolist():
            extraction.budget.entry()
            raw = info.filename.replace("\\", "/")
            name = _inside(raw, f"entry {info.filename!r}")
            if name == ".":
                continue
            if stat.S_ISLNK(info.external_attr >> 16):  # a link, as Info-ZIP stores one
                with archive.open(info) as source:
                    target = source.read(4096).decode("utf-8", errors="replace")
                extraction.link(name, target, symbolic=True)
            elif info.is_dir():
                extraction.directory(name)
            else:
                with archive.open(info) as source:
                    extraction.file(name, source)


def _inside(name: str, what: str) -> str:
    """A path inside the archive's root, normalised; refused when it is absolute or climbs
    out of the root."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ModelLoadError(f"the archive's {what} is an absolute path")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise ModelLoadError(f"the archive's {what} points outside it")
    return normal


def _model_dir(root: Path) -> Path:
    current = root
    for _ in range(_DEPTH):
        if any((current / name).is_file() for name in _MODEL_FILES):
            return current
        folders = [
            entry
            for entry in current.iterdir()
            if entry.is_dir() and entry.name not in _IGNORED and not entry.name.startswith(".")
        ]
        if len(folders) != 1:
            break
        current = folders[0]
    found = sorted(str(p.relative_to(root)) for p in root.rglob("saved_model.pb"))[:5]
    where = f"; it has {', '.join(found)}" if found else ""
    raise ModelLoadError(
        "the archive has no saved_model.pb at its root or inside its one folder" + where
    )
