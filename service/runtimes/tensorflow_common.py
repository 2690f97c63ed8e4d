"""What the two TensorFlow runtimes share: importing TensorFlow (lazily, quietly), a session
sized to the worker's cores, and the model that feeds a session from a typed batch and reads
its answer (tensorflow_answers.py). The graph runtime (tensorflow_graph.py) and the SavedModel
runtime (tensorflow_saved.py) differ only in how they find the session's inputs and outputs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from service.errors import ModelLoadError
from service.inputs.schema import InputSchema, TypedBatch
from service.inputs.tensor_layout import TensorInput
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.tensorflow_answers import OutputTensor, answer
from service.runtimes.tensorflow_inputs import Feed, tensor_layout

INSTALL_HINT = "install the optional extra: pip install 'modelserve[tensorflow]'"


def import_tensorflow() -> Any:
    """TensorFlow, imported on the first TensorFlow model only (it takes seconds and a few
    hundred MB): a service that serves only ONNX never imports it."""
    # TensorFlow's C++ INFO and WARNING lines (CPU features, oneDNN, deprecations) go to the
    # process's stderr outside our logging; an operator who sets the variable keeps theirs.
    # It is read when TensorFlow's library loads, so it must be set before the import.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ModelLoadError(f"TensorFlow is not installed ({exc}): {INSTALL_HINT}") from exc
    return tf


@contextlib.contextmanager
def quiet_deprecations() -> Iterator[None]:
    """TensorFlow logs a deprecation warning for every TF1 loader call; silence it for the
    call only (its own switch), leaving the service's logging and TensorFlow's logger alone."""
    try:
        from tensorflow.python.util import deprecation
    except ImportError:  # a TensorFlow that moved it: the warning is noise, not an error
        yield
        return
    with deprecation.silence():
        yield


def new_session(tf: Any, graph: Any, threads: int) -> Any:
    """A TF1 session on ``graph`` with the worker's threads: one scoring process per core, so
    more threads per batch only fight each other (as onnxruntime's sessions are set), and one
    inter-op thread, since a served model is one chain of ops per batch. TensorFlow sizes its
    process-wide pools from the first session's config; every model of a worker asks the
    same, so they share them."""
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=max(1, threads),
        inter_op_parallelism_threads=1,
        device_count={"GPU": 0},
    )
    return tf.compat.v1.Session(graph=graph, config=config)


class SessionModel:
    """A TensorFlow model: a session, the feeds that make its inputs from a typed batch, and
    the output tensors it answers with. ``cleanup`` frees what loading left (a SavedModel's
    extracted files)."""

    def __init__(
        self,
        tf: Any,
        session: Any,
        schema: InputSchema,
        feeds: Sequence[Feed],
        outputs: Sequence[OutputTensor],
        labels: Sequence[str] | None,
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self._version = str(tf.__version__)
        self._session = session
        self._schema = schema
        self._feeds = tuple(feeds)
        self._outputs = tuple(outputs)
        self._fetches = [o.tensor for o in self._outputs]
        self._labels = list(labels) if labels else None
        self._cleanup = cleanup

    @property
    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo("tensorflow", self._version)

    @property
    def input_schema(self) -> InputSchema:
        return self._schema

    @property
    def tensor_inputs(self) -> tuple[TensorInput, ...]:
        """The inputs as tensor clients send them: one [N,k] input as itself, under its
        tensor's name (a SavedModel's signature key), else one tensor per input."""
        return tensor_layout(self._schema, self._feeds)

    def predict(self, batch: TypedBatch) -> BatchResult:
        feed_dict = {feed.tensor: feed.array(batch) for feed in self._feeds}
        values = self._session.run(self._fetches, feed_dict=feed_dict)
        return answer(self._outputs, values, batch.size, self._labels)

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            if self._cleanup is not None:
                self._cleanup()
                self._cleanup = None


def load_error(what: str, exc: Exception) -> ModelLoadError:
    """A load failure from TensorFlow (its errors are of many classes, and its messages can
    be long): one line naming what could not be done."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelLoadError(f"{what}: {message}")


# Ops that pass a tensor through unchanged: the op that made an output is found behind them.
_PASS_THROUGH = frozenset(("Identity", "StopGradient", "Snapshot"))
# Ops that call a function of the graph's library (a TF2 model's whole body is one).
_CALLS = frozenset(("StatefulPartitionedCall", "PartitionedCall"))


def producing_op(graph_def: Any, tensor: str) -> str:
    """The type of the op that computes ``tensor`` ("dense_3/Sigmoid:0" → "Sigmoid"), seen
    through identities and into the functions a TF2 model calls; "" when it cannot be told.
    Whether an output is a Softmax's is what says that its rows are probabilities."""
    nodes = {node.name: node for node in graph_def.node}
    functions = {f.signature.name: f for f in graph_def.library.function}
    name, index = _split_tensor(tensor)
    for _ in range(256):  # a graph is finite, a hostile one may still loop
        node = nodes.get(name)
        if node is None:
            return ""
        if node.op in _PASS_THROUGH and node.input:
            name, index = _split_tensor(node.input[0])
            continue
        if node.op in _CALLS and "f" in node.attr:
            function = functions.get(node.attr["f"].func.name)
            outputs = function.signature.output_arg if function is not None else ()
            if function is None or index >= len(outputs):
                return str(node.op)
            returned = function.ret.get(outputs[index].name)
            if returned is None:
                return str(node.op)
            nodes = {inner.name: inner for inner in function.node_def}
            name, index = _split_tensor(returned)
            continue
        return str(node.op)
    return ""


def _split_tensor(tensor: str) -> tuple[str, int]:
    """A tensor reference's node and output index: "a/b:1" in a graph, "a/b:output:0" in a
    function's body, "a/b" for output 0."""
    parts = tensor.lstrip("^").split(":")
    try:
        index = int(parts[-1]) if len(parts) > 1 else 0
    except ValueError:
        index = 0
    return parts[0], index
