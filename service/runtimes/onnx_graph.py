"""Reading an ONNX graph itself, before onnxruntime sees it: refusing tensors whose data lives
in files, the class names a classifier declares, and taking a classifier's probabilities as
one tensor rather than through a ZipMap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.errors import ModelLoadError


def refuse_external_data(artifact: bytes) -> Any:
    """ONNX tensors may keep their data in files named by the model (external data); a model
    arriving as bytes must not make the service read files of its choosing. Returns the
    parsed model."""
    import onnx

    try:
        proto = onnx.ModelProto.FromString(artifact)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelLoadError(f"not an ONNX model: {exc}") from exc
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise ModelLoadError(
                f"tensor {tensor.name!r} refers to external data; only self-contained ONNX "
                "models are accepted"
            )
    return proto


# How the ai.onnx.ml operators name their classes, in the order of the probability columns
# (ZipMap names the map keys; the classifiers their outputs' columns): TreeEnsembleClassifier
# and ZipMap say int64s, LinearClassifier and SVMClassifier ints.
_INTEGER_CLASS_LABELS = ("classlabels_int64s", "classlabels_ints")


def model_class_labels(proto: Any) -> list[str] | None:
    """The class names the model itself declares (a classifier node's or a ZipMap's
    ``classlabels_*`` attribute, as text), or None when it declares none."""
    for node in proto.graph.node:
        if node.domain != "ai.onnx.ml":
            continue
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [value.decode("utf-8", errors="replace") for value in attribute.strings]
            if attribute.name in _INTEGER_CLASS_LABELS and attribute.ints:
                return [str(value) for value in attribute.ints]
    return None


def _all_tensors(graph: Any) -> Iterator[Any]:
    """Initializers and tensor attributes of every node, subgraphs included."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _all_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_tensors(subgraph)


def without_zipmap(proto: Any) -> bool:
    """Replaces each ZipMap that makes a graph output by an Identity of its input, so that
    the output keeps its name but holds the probabilities as one [N, C] tensor instead of one
    {class: p} dict per row (reading those back took a sixth of a 50-tree forest's call:
    5.5 ms against 4.6 ms per 1,000 rows). The class names stay with the classifier node (and
    are read before this, from the ZipMap too). Returns whether the graph changed."""
    import onnx

    outputs = {output.name: output for output in proto.graph.output}
    changed = False
    for node in proto.graph.node:
        if node.op_type != "ZipMap" or node.domain != "ai.onnx.ml":
            continue
        output = outputs.get(node.output[0])
        if output is None or not output.type.HasField("sequence_type"):
            continue
        value_type = output.type.sequence_type.elem_type.map_type.value_type
        element = value_type.tensor_type.elem_type or onnx.TensorProto.FLOAT
        node.CopyFrom(onnx.helper.make_node("Identity", [node.input[0]], [node.output[0]]))
        output.type.CopyFrom(onnx.helper.make_tensor_type_proto(element, shape=None))
        changed = True
    return changed
