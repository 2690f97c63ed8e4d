"""A TensorFlow model cannot read or write files, call Python or stop the process: the ops it
would run (its answers' and a SavedModel's init ops, through the functions they call) are
checked before anything of it runs, and one that does I/O is refused; ops nothing runs are not
held against it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from service.errors import ModelLoadError
from service.runtimes.catalog import RUNTIMES, LoadRequest
from service.runtimes.tensorflow_ops import refused
from tests.runtimes.tensorflow_models import tensorflow_or_skip


def test_the_refused_ops() -> None:
    for op in ("ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "PyFunc",
               "EagerPyFunc", "Abort", "SaveV2", "RestoreV2", "PrintV2", "TFRecordReaderV2",
               "InitializeTableFromTextFileV2", "TensorDataset", "DebugIdentityV2",
               "WriteSummary"):  # fmt: skip
        assert refused(op), op
    for op in ("MatMul", "Relu", "Sigmoid", "Softmax", "BiasAdd", "Const", "Placeholder",
               "StatefulPartitionedCall", "ReadVariableOp", "Identity", "StringJoin"):  # fmt: skip
        assert not refused(op), op
    assert not refused("RestoreV2", frozenset({"RestoreV2"}))


def graph(build: Any) -> tuple[bytes, str]:
    tf = tensorflow_or_skip()
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(None, 1), name="x")
        y = build(tf, x)
    return bytes(g.as_graph_def().SerializeToString()), str(y.name)


def load_graph(artifact: bytes, output: str) -> Any:
    return RUNTIMES.get("TENSORFLOW").load(LoadRequest(artifact, ["a"], outputs=[output]))


def test_a_graph_whose_answer_reads_a_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("7")

    def reads(tf: Any, x: Any) -> Any:
        number = tf.strings.to_number(tf.io.read_file(str(secret)))
        return tf.identity(x + number, name="y")

    with pytest.raises(ModelLoadError, match="op ReadFile"):
        load_graph(*graph(reads))


def test_a_write_hidden_in_a_control_dependency_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "written"

    def writes(tf: Any, x: Any) -> Any:
        write = tf.io.write_file(str(target), "owned")
        with tf.control_dependencies([write]):
            return tf.identity(x, name="y")

    with pytest.raises(ModelLoadError, match="op WriteFile"):
        load_graph(*graph(writes))
    assert not target.exists()


def test_python_in_a_graph_is_refused() -> None:
    def calls_python(tf: Any, x: Any) -> Any:
        return tf.compat.v1.py_func(lambda v: v, [x], tf.float32, name="y")

    with pytest.raises(ModelLoadError, match="PyFunc"):
        load_graph(*graph(calls_python))


def test_an_op_nothing_runs_is_not_held_against_the_graph(tmp_path: Path) -> None:
    target = tmp_path / "never"

    def beside(tf: Any, x: Any) -> Any:
        tf.io.write_file(str(target), "never run")  # not an input of the answer
        return tf.math.sigmoid(x, name="y")

    model = load_graph(*graph(beside))
    model.close()
    assert not target.exists()


def saved_model_tar(folder: Path) -> bytes:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        archive.add(folder, arcname="m")
    return packed.getvalue()


def test_a_saved_models_main_op_may_not_write_files(tmp_path: Path) -> None:
    tf = tensorflow_or_skip()
    target = tmp_path / "written-at-load"
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        y = tf.identity(tf.reduce_sum(x, axis=1), name="y")
        main_op = tf.io.write_file(str(target), "owned")
        with tf.compat.v1.Session(graph=g) as session:
            builder = tf.compat.v1.saved_model.Builder(str(tmp_path / "sm"))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature},
                main_op=main_op,
            )  # fmt: skip
            builder.save()
    with pytest.raises(ModelLoadError, match="op WriteFile"):
        RUNTIMES.get("TENSORFLOWSAVED").load(LoadRequest(saved_model_tar(tmp_path / "sm")))
    assert not target.exists()


def test_a_tf2_function_that_reads_a_file_is_refused(tmp_path: Path) -> None:
    tf = tensorflow_or_skip()
    secret = tmp_path / "secret"
    secret.write_text("7")

    class Reads(tf.Module):  # type: ignore[misc,name-defined]
        @tf.function(  # type: ignore[untyped-decorator]
            input_signature=[tf.TensorSpec([None, 1], tf.float32)]
        )
        def serve(self, x: Any) -> dict[str, Any]:
            return {"y": x + tf.strings.to_number(tf.io.read_file(str(secret)))}

    module = Reads()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    with pytest.raises(ModelLoadError, match="op ReadFile"):
        RUNTIMES.get("TENSORFLOWSAVED").load(LoadRequest(saved_model_tar(tmp_path / "sm")))
