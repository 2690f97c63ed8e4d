"""TensorFlow models for the TENSORFLOW and TENSORFLOWSAVED runtimes' tests, built here in
seconds, deterministically, so that no third party's files ship with the tests:

- the wine net of Lightbend's examples (11 → 12 → 8 → 9, relu, relu, a sigmoid per class),
  as a frozen GraphDef whose placeholder ``dense_1_input`` has no shape (as Keras froze
  Lightbend's), and as a TF1 SavedModel whose one signature is ``predict`` (input ``inputs``
  [None,11], output ``outputs``), as Lightbend's is; a softmax variant and a regression variant
  (one output) of both;
- a TF2 ``tf.Module`` SavedModel with ``serving_default`` and ``by_two``, taking inputs of
  several dtypes (a float [None,3], an int64 [None], a string [None]) and answering softmax
  probabilities;
- a Keras model exported as a SavedModel (``serving_default``, one [None,4] input).

TensorFlow is an optional extra: ``tensorflow_or_skip`` skips the tests that need it with the
reason shown, except under CI, where TensorFlow is installed and its absence is a failure."""

from __future__ import annotations

import io
import itertools
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pytest

Head = Literal["sigmoid", "softmax", "regression"]
LAYERS = (11, 12, 8, 9)


def tensorflow_or_skip() -> Any:
    """TensorFlow, or the test skipped (failed under CI) saying how to install it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        message = f"TensorFlow not installed ({exc}): pip install -e '.[tensorflow]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI installs the extra: missing there is a broken machine
        pytest.skip(message)
    return tf


def weights(
    head: Head, seed: int = 23
) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
    """Each dense layer's kernel and bias. The first layer's kernel is scaled down by the
    wine fields' ranges (sulfur dioxide reaches 289), so that the answers are not all one
    saturated class."""
    rng = np.random.default_rng(seed)
    sizes = (*LAYERS[:-1], 1) if head == "regression" else LAYERS
    layers = []
    for i, (rows, cols) in enumerate(itertools.pairwise(sizes)):
        scale = 0.05 if i == 0 else 0.8
        kernel = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
        bias = (rng.standard_normal(cols) * 0.1).astype(np.float32)
        layers.append((kernel, bias))
    return layers


def _dense_net(tf: Any, x: Any, head: Head, make: Any) -> Any:
    """The wine net on ``x``: ``make(name, array)`` makes each kernel and bias (a constant for
    a frozen graph, a variable for a SavedModel)."""
    layers = weights(head)
    for i, (kernel, bias) in enumerate(layers, start=1):
        with tf.compat.v1.name_scope(f"dense_{i}"):
            k = make("kernel", kernel)
            b = make("bias", bias)
            x = tf.nn.bias_add(tf.linalg.matmul(x, k, name="MatMul"), b, name="BiasAdd")
            if i < len(layers):
                x = tf.nn.relu(x, name="Relu")
            elif head == "sigmoid":
                x = tf.math.sigmoid(x, name="Sigmoid")
            elif head == "softmax":
                x = tf.nn.softmax(x, name="Softmax")
    return x


def frozen_graph(tf: Any, head: Head) -> tuple[bytes, str]:
    """The wine net as a frozen GraphDef, and its output tensor's name."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=None, name="dense_1_input")
        y = _dense_net(tf, x, head, lambda name, value: tf.constant(value, name=name))
    return bytes(graph.as_graph_def().SerializeToString()), str(y.name)


def tf1_saved_model(
    tf: Any, head: Head, directory: Path, signatures: tuple[str, ...] = ("predict",)
) -> None:
    """The wine net as a TF1 SavedModel (reference variables, as Lightbend's; one signature
    ``predict``, or the ones named) in ``directory``."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(None, 11), name="dense_1_input")
        y = _dense_net(
            tf,
            x,
            head,
            lambda name, value: tf.compat.v1.Variable(value, name=name, use_resource=False),
        )
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(directory))
            signature = tf.compat.v1.saved_model.predict_signature_def(
                inputs={"inputs": x}, outputs={"outputs": y}
            )
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map=dict.fromkeys(signatures, signature)
            )
            builder.save()


def tf2_module_saved_model(tf: Any, directory: Path) -> None:
    """A TF2 SavedModel of several inputs of several dtypes: softmax(x·W + n + len(s))."""

    class Mixed(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(weights("softmax")[0][0][:3, :4])

        def logits(self, x: Any, n: Any, s: Any) -> Any:
            extra = tf.cast(n, tf.float32) + tf.cast(tf.strings.length(s), tf.float32)
            return tf.linalg.matmul(x, self.w) + tf.expand_dims(extra, 1) * 0.1

        @tf.function(input_signature=mixed_signature(tf))  # type: ignore[untyped-decorator]
        def serve(self, x: Any, n: Any, s: Any) -> dict[str, Any]:
            return {"probabilities": tf.nn.softmax(self.logits(x, n, s))}

        @tf.function(input_signature=mixed_signature(tf))  # type: ignore[untyped-decorator]
        def by_two(self, x: Any, n: Any, s: Any) -> dict[str, Any]:
            return {"doubled": self.logits(x, n, s) * 2.0, "count": n}

    module = Mixed()
    signatures = {"serving_default": module.serve, "by_two": module.by_two}
    tf.saved_model.save(module, str(directory), signatures=signatures)


def mixed_signature(tf: Any) -> list[Any]:
    return [
        tf.TensorSpec([None, 3], tf.float32, name="x"),
        tf.TensorSpec([None], tf.int64, name="n"),
        tf.TensorSpec([None], tf.string, name="s"),
    ]


def keras_saved_model(directory: Path) -> None:
    """A Keras softmax classifier of one [None,4] input, exported as a SavedModel."""
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [keras.Input((4,), name="feats"), keras.layers.Dense(3, activation="softmax")]
    )
    model.export(str(directory), format="tf_saved_model", verbose=False)


@dataclass(frozen=True)
class TensorFlowModels:
    graphs: dict[Head, tuple[bytes, str]]  # head → GraphDef, output tensor
    tf1_saved: dict[Head, Path]  # head → a folder holding 1/saved_model.pb
    tf2_saved: Path  # a folder holding saved_model.pb
    keras_saved: Path


def build_models(tf: Any, root: Path) -> TensorFlowModels:
    heads: tuple[Head, ...] = ("sigmoid", "softmax", "regression")
    tf1_saved = {}
    for head in heads:
        tf1_saved[head] = root / f"wine_{head}"
        tf1_saved_model(tf, head, tf1_saved[head] / "1")
    tf2_module_saved_model(tf, root / "mixed")
    keras_saved_model(root / "keras")
    return TensorFlowModels(
        {head: frozen_graph(tf, head) for head in heads},
        tf1_saved,
        root / "mixed",
        root / "keras",
    )


# -- TensorFlow's own answers, to compare the runtimes' with ---------------------------------


def graph_answer(tf: Any, graph: bytes, output: str, features: npt.NDArray[Any]) -> Any:
    graph_def = tf.compat.v1.GraphDef.FromString(graph)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as session:
            return session.run(output, {"dense_1_input:0": features})


def saved_answer(tf: Any, directory: Path, signature: str, **inputs: Any) -> dict[str, Any]:
    loaded = tf.saved_model.load(str(directory))
    answer = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in answer.items()}


# -- archives ----------------------------------------------------------------------------------


def tar_of(directory: Path, arcname: str | None = None, compress: bool = True) -> bytes:
    """A folder as a tar archive (``arcname``: the folder's name in it; "": its contents at
    the archive's root)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz" if compress else "w") as archive:
        name = directory.name if arcname is None else arcname
        if name:
            archive.add(directory, arcname=name)
        else:
            for entry in sorted(directory.iterdir()):
                archive.add(entry, arcname=entry.name)
    return data.getvalue()


def zip_of(directory: Path, arcname: str | None = None) -> bytes:
    data = io.BytesIO()
    prefix = directory.name if arcname is None else arcname
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory).as_posix()
            archive.write(path, f"{prefix}/{relative}" if prefix else relative)
    return data.getvalue()
