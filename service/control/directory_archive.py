"""A directory given by reference (a TensorFlow SavedModel, ``data/saved/1/`` in Lightbend's
tutorial) as one artifact: an uncompressed tar of its files, packed the same way every time
(sorted, no owners, no times), so that every artifact is bytes, however it was given, and a
runtime that takes archives (tensorflow_saved) takes a directory too."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from service.errors import DescriptorRejectedError, ModelLoadError


def pack_directory(root: Path, max_bytes: int) -> bytes:
    """The files under ``root`` as a tar, within ``max_bytes``. A symbolic link is refused: it
    could name a file outside the trusted directory."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs.sort()
            base = Path(folder)
            for name in [*dirs, *sorted(files)]:
                path = base / name
                if path.is_symlink():
                    raise DescriptorRejectedError(
                        f"location holds a symbolic link ({path.relative_to(root)}); "
                        "a directory is read only as its own files"
                    )
                if path.is_file():
                    total += path.stat().st_size
                    if total > max_bytes:
                        raise DescriptorRejectedError(f"artifact exceeds {max_bytes} bytes")
                _add(archive, path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        archive.addfile(info)
        return
    info.mode = 0o644
    try:
        with path.open("rb") as handle:
            info.size = os.fstat(handle.fileno()).st_size
            archive.addfile(info, handle)
    except OSError as exc:
        raise ModelLoadError(f"cannot read location: {exc.strerror}") from exc
