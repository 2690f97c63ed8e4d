"""A SavedModel archive is extracted into a private directory and nothing in it reaches
outside: names that climb out, links that point out, devices and archives that extract to
more than the limit are refused, and nothing is written outside. Pure Python: no TensorFlow."""

from __future__ import annotations

import io
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest

from service.errors import ModelLoadError
from service.runtimes.savedmodel_archive import (
    MIB,
    extract_saved_model,
    extraction_limit,
)

MODEL = b"\x08\x01 a saved_model.pb"


def tar(*members: tuple[tarfile.TarInfo, bytes | None], gz: bool = True) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz" if gz else "w") as archive:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return data.getvalue()


def regular(name: str, content: bytes = MODEL) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), content


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_a_model_in_one_folder_or_at_the_root_is_found() -> None:
    for artifact, where in [
        (tar(regular("m/saved_model.pb"), regular("m/variables/variables.index")), "m"),
        (tar(regular("wine/1/saved_model.pb")), "wine/1"),
        (tar(regular("./saved_model.pb"), gz=False), "."),
    ]:
        extracted = extract_saved_model(artifact)
        root = Path(extracted.directory.name)
        assert extracted.model_dir == root / where
        assert (extracted.model_dir / "saved_model.pb").read_bytes() == MODEL
        extracted.close()
        assert not root.exists()


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (regular("../escaped-{tag}"), "points outside it"),
        (regular("m/../../escaped-{tag}"), "points outside it"),
        (regular("/tmp/escaped-{tag}"), "is an absolute path"),
        (link("m/saved_model.pb", "/etc/passwd"), "points outside it"),
        (link("m/saved_model.pb", "../../escaped-{tag}"), "points outside it"),
        (link("m/saved_model.pb", "../escaped-{tag}", tarfile.LNKTYPE), "points outside it"),
    ],
)
def test_entries_that_reach_outside_are_refused(
    member: tuple[tarfile.TarInfo, bytes | None], why: str
) -> None:
    tag = uuid.uuid4().hex
    info, content = member
    info.name = info.name.format(tag=tag)
    info.linkname = info.linkname.format(tag=tag)
    artifact = tar(regular("m/variables/v", b"x"), (info, content))
    with pytest.raises(ModelLoadError, match=why):
        extract_saved_model(artifact)
    assert not list(Path("/tmp").glob(f"escaped-{tag}"))


def test_a_link_inside_the_archive_becomes_a_copy() -> None:
    artifact = tar(regular("m/real.pb"), link("m/saved_model.pb", "real.pb"))
    extracted = extract_saved_model(artifact)
    model = extracted.model_dir / "saved_model.pb"
    assert not model.is_symlink() and model.read_bytes() == MODEL
    extracted.close()
    with pytest.raises(ModelLoadError, match="not a file in it"):
        extract_saved_model(tar(regular("m/saved_model.pb"), link("m/v", "variables")))


def test_devices_and_pipes_are_refused() -> None:
    fifo = tarfile.TarInfo("m/pipe")
    fifo.type = tarfile.FIFOTYPE
    with pytest.raises(ModelLoadError, match="is not a file"):
        extract_saved_model(tar(regular("m/saved_model.pb"), (fifo, None)))


def test_an_archive_extracting_past_the_limit_is_refused() -> None:
    """A gzip bomb: 65 MiB of zeros in a 65 KiB artifact, past the 64 MiB floor."""
    artifact = tar(regular("m/saved_model.pb"), regular("m/variables/v", bytes(65 * MIB)))
    assert len(artifact) < MIB and extraction_limit(len(artifact)) == 64 * MIB
    with pytest.raises(ModelLoadError, match="extracts to more than 67,108,864 bytes"):
        extract_saved_model(artifact)
    with pytest.raises(ModelLoadError, match="more than 1,000 bytes"):
        extract_saved_model(tar(regular("m/saved_model.pb", bytes(2000))), limit=1000)


def test_a_zip_bomb_is_counted_as_written() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m/saved_model.pb", MODEL)
        archive.writestr("m/variables/v", bytes(3 * MIB))
    with pytest.raises(ModelLoadError, match="more than 2,097,152 bytes"):
        extract_saved_model(data.getvalue(), limit=2 * MIB)


def test_zip_entries_that_reach_outside_are_refused() -> None:
    tag = uuid.uuid4().hex
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("m/saved_model.pb", MODEL)
        archive.writestr(f"..\\escaped-{tag}", b"x")
    with pytest.raises(ModelLoadError, match="points outside it"):
        extract_saved_model(data.getvalue())
    symlink = zipfile.ZipInfo("m/variables")
    symlink.external_attr = (0o120777 << 16) | 0x10  # how Info-ZIP stores a link
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("m/saved_model.pb", MODEL)
        archive.writestr(symlink, "/etc")
    with pytest.raises(ModelLoadError, match="points outside it"):
        extract_saved_model(data.getvalue())
    assert not list(Path("/tmp").glob(f"escaped-{tag}"))


def test_what_is_no_archive_is_refused_saying_what_is_taken() -> None:
    with pytest.raises(ModelLoadError, match=r"archived as \.tar\.gz, \.tar or \.zip"):
        extract_saved_model(b"\x08\x01 a bare saved_model.pb")
    with pytest.raises(ModelLoadError, match="cannot extract"):
        extract_saved_model(b"\x1f\x8b\x08\x00 truncated")
