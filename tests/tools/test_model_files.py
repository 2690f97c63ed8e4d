"""What ``modelserve publish`` takes a file for without ``--type``: its extension, or, for an
archive or a directory, what it holds."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from service.tools.model_files import guess_runtime, read_artifact
from service.tools.publishing import build_descriptor


def zipped(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
    return path


def tarred(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))
    return path


def test_archives_are_told_apart_by_what_they_hold(tmp_path: Path) -> None:
    cases = {
        zipped(tmp_path / "gbm.zip", ["model.ini", "domains/d000.txt"]): "H2O",
        zipped(tmp_path / "saved.zip", ["saved_model.pb", "variables/v.index"]): "TENSORFLOWSAVED",
        tarred(tmp_path / "saved.tar.gz", ["1/saved_model.pb"]): "TENSORFLOWSAVED",
        tarred(tmp_path / "serving.tar.gz", ["wine/1/saved_model.pb"]): "TENSORFLOWSAVED",
        tmp_path / "graph.pb": "TENSORFLOW",
        tmp_path / "m.onnx": "ONNX",
    }
    (tmp_path / "graph.pb").write_bytes(b"g")
    (tmp_path / "m.onnx").write_bytes(b"o")
    for path, model_type in cases.items():
        runtime = guess_runtime(path)
        assert runtime is not None and runtime.model_type == model_type, path.name
    assert guess_runtime(zipped(tmp_path / "other.zip", ["readme.txt"])) is None
    assert guess_runtime(zipped(tmp_path / "deep.zip", ["a/b/c/d/saved_model.pb"])) is None


def test_a_saved_model_directory_is_published_as_a_tar_of_it(tmp_path: Path) -> None:
    folder = tmp_path / "saved" / "1"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    runtime = guess_runtime(folder)
    assert runtime is not None and runtime.model_type == "TENSORFLOWSAVED"
    outer = guess_runtime(tmp_path / "saved")  # as TensorFlow Serving lays versions out
    assert outer is not None and outer.model_type == "TENSORFLOWSAVED"
    descriptor = build_descriptor(folder, "tensorflow saved model", "wine")
    assert descriptor.model_type == "TENSORFLOWSAVED" and descriptor.data == read_artifact(folder)
    with tarfile.open(fileobj=io.BytesIO(read_artifact(folder))) as archive:
        assert "saved_model.pb" in archive.getnames()


def test_a_python_model_may_be_published_without_a_file() -> None:
    descriptor = build_descriptor(
        None, "rules", "wine", model_type="python", handler="acme.models:load"
    )
    assert (descriptor.model_type, descriptor.handler, descriptor.data) == (
        "PYTHON",
        "acme.models:load",
        None,
    )
    with pytest.raises(ValueError, match="pass --type"):
        build_descriptor(None, "rules", "wine")
