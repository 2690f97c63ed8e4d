"""TENSORFLOW models: a frozen GraphDef (a ``.pb`` of constants, no variables), as Lightbend's
wine model is, run in a TF1 session. Its input is its placeholder (one [N,k] tensor whose k
columns the descriptor's ``inputs`` name, or one input per placeholder); its answer is the
tensor nobody consumes, or the one the descriptor's ``outputs`` names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.errors import ModelLoadError
from service.runtimes.catalog import LoadRequest
from service.runtimes.tensorflow_answers import OutputTensor
from service.runtimes.tensorflow_common import (
    SessionModel,
    import_tensorflow,
    load_error,
    new_session,
    producing_op,
)
from service.runtimes.tensorflow_inputs import GraphInput, bind_inputs
from service.runtimes.tensorflow_ops import check_ops

# Ops that hold state a frozen graph has turned into constants: a graph with them needs a
# checkpoint modelserve does not have (a SavedModel brings one).
_VARIABLES = frozenset(("Variable", "VariableV2", "VarHandleOp", "AutoReloadVariable"))
# Ops whose output is no answer even when nothing consumes it.
_NOT_ANSWERS = frozenset(("Const", "NoOp", "Placeholder", "PlaceholderWithDefault", "Assert"))


def load(request: LoadRequest) -> SessionModel:
    tf = import_tensorflow()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(request.artifact)
    except Exception as exc:  # protobuf's DecodeError, and whatever else bytes provoke
        raise load_error("not a TensorFlow GraphDef", exc) from exc
    if not graph_def.node:
        raise ModelLoadError("not a TensorFlow GraphDef: it has no nodes")
    try:
        return _load(tf, graph_def, request)
    except ModelLoadError:
        raise
    except Exception as exc:  # TensorFlow's errors are of many classes
        raise load_error("TensorFlow cannot load the graph", exc) from exc


def _load(tf: Any, graph_def: Any, request: LoadRequest) -> SessionModel:
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    operations = graph.get_operations()
    variables = sorted({op.type for op in operations if op.type in _VARIABLES})
    if variables:
        raise ModelLoadError(
            f"the graph has variables ({', '.join(variables)}), not only constants: freeze it "
            "(convert_variables_to_constants) or publish it as a TENSORFLOWSAVED SavedModel"
        )
    placeholders = [op for op in operations if op.type == "Placeholder"]
    if not placeholders:
        raise ModelLoadError("the graph has no Placeholder: modelserve has nothing to feed")
    schema, feeds = bind_inputs([_graph_input(op) for op in placeholders], request.inputs)
    outputs = _outputs(graph, graph_def, request.outputs)
    # Before any session exists: nothing of the graph has run yet.
    check_ops(graph_def.node, graph_def.library.function, [o.tensor for o in outputs])
    graph.finalize()  # read-only from here: sessions run it from worker threads
    session = new_session(tf, graph, request.options.intra_op_threads)
    return SessionModel(tf, session, schema, feeds, outputs, request.labels)


def _graph_input(placeholder: Any) -> GraphInput:
    tensor = placeholder.outputs[0]
    shape = _shape(tensor.shape)
    width = None
    if shape is None or (len(shape) == 2 and shape[1] is None):
        width = _matmul_width(tensor)
    return GraphInput(placeholder.name, tensor.name, tensor.dtype.name, shape, width)


def _shape(shape: Any) -> tuple[int | None, ...] | None:
    if shape.rank is None:
        return None
    return tuple(None if d is None else int(d) for d in shape.as_list())


def _matmul_width(tensor: Any) -> int | None:
    """The columns a placeholder without a shape takes, read from the first matrix product it
    feeds: its kernel's rows. Keras's frozen graphs (Lightbend's ``dense_1_input``) have no
    shape on their input but say it there."""
    for consumer in tensor.consumers():
        transposes = _TRANSPOSES.get(consumer.type)
        if transposes is None or consumer.inputs[0] is not tensor:
            continue
        first, second = (bool(consumer.get_attr(name)) for name in transposes)
        kernel = _shape(consumer.inputs[1].shape)
        if first or kernel is None or len(kernel) < 2:
            continue
        return kernel[-1] if second else kernel[-2]
    return None


# Matrix products, and their attributes that transpose the input and the kernel.
_TRANSPOSES = {
    "MatMul": ("transpose_a", "transpose_b"),
    "BatchMatMul": ("adj_x", "adj_y"),
    "BatchMatMulV2": ("adj_x", "adj_y"),
    "BatchMatMulV3": ("adj_x", "adj_y"),
}


def _outputs(graph: Any, graph_def: Any, named: Sequence[str] | None) -> list[OutputTensor]:
    if named:
        return [_named_output(graph, graph_def, name) for name in named]
    consumed = {t.op.name for op in graph.get_operations() for t in op.inputs}
    consumed |= {c.name for op in graph.get_operations() for c in op.control_inputs}
    terminal = [
        op
        for op in graph.get_operations()
        if op.name not in consumed and op.type not in _NOT_ANSWERS and op.outputs
    ]
    if len(terminal) != 1 or len(terminal[0].outputs) != 1:
        shown = ", ".join(f"{op.name} ({op.type})" for op in terminal[:10]) or "none"
        raise ModelLoadError(
            f"the graph's answer is not one tensor (tensors nobody consumes: {shown}): "
            "the descriptor must name it in `outputs`"
        )
    tensor = terminal[0].outputs[0]
    softmax = producing_op(graph_def, tensor.name) == "Softmax"
    return [OutputTensor(terminal[0].name, tensor.name, softmax)]


def _named_output(graph: Any, graph_def: Any, name: str) -> OutputTensor:
    tensor_name = name if ":" in name else f"{name}:0"
    try:
        tensor = graph.get_tensor_by_name(tensor_name)
    except (KeyError, ValueError) as exc:
        raise ModelLoadError(f"`outputs` names {name!r}, which the graph does not have") from exc
    softmax = producing_op(graph_def, tensor.name) == "Softmax"
    return OutputTensor(name.removesuffix(":0"), tensor.name, softmax)
