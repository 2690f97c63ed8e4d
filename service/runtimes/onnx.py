"""ONNX models through onnxruntime: one session per model, one ``run`` per batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from service.errors import ModelLoadError
from service.runtimes.base import BatchResult, FloatMatrix, RuntimeInfo, labels_from_indices
from service.runtimes.catalog import LoadRequest

_TENSOR_DTYPES: dict[str, npt.DTypeLike] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def load(request: LoadRequest) -> OnnxModel:
    return OnnxModel(
        request.artifact,
        request.inputs,
        request.labels,
        intra_op_threads=request.options.intra_op_threads,
    )


class OnnxModel:
    """Either one tensor input of width k (columns named by the descriptor's ``inputs``) or k
    inputs of width 1 (columns named by the inputs themselves). Outputs are read as a
    classifier (a label and/or a probability output), a regressor (one numeric output of
    width 1), or otherwise passed through as named outputs."""

    def __init__(
        self,
        artifact: bytes,
        inputs: Sequence[str] | None,
        labels: Sequence[str] | None,
        intra_op_threads: int = 1,
    ) -> None:
        proto = refuse_external_data(artifact)
        options = ort.SessionOptions()
        # One scoring process per core: more threads per session only fight each other.
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Pool threads otherwise spin for a while after every run, waiting for the next one:
        # a core's worth of CPU taken from the event loop, the broker and other processes
        # (measured: the service at 1.7 cores instead of 1.0 on two).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                artifact, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"onnxruntime cannot load the model: {exc}") from exc
        self._labels = list(labels) if labels else None
        # Without `labels`, the probability columns are named by the classes the model
        # declares, so that they agree with its label output (never "0", "1" beside "<=50K").
        self._model_classes = model_class_labels(proto)
        del proto
        self._bind_inputs(inputs)
        self._bind_outputs()

    # -- loading ------------------------------------------------------------------------------

    def _bind_inputs(self, inputs: Sequence[str] | None) -> None:
        graph_inputs = self._session.get_inputs()
        for node in graph_inputs:
            if node.type not in _TENSOR_DTYPES:
                raise ModelLoadError(f"input {node.name!r} has unsupported type {node.type}")
        if len(graph_inputs) == 1:
            node = graph_inputs[0]
            width = node.shape[-1] if len(node.shape) >= 2 else 1
            if inputs is None:
                if width == 1:
                    inputs = [node.name]
                else:
                    raise ModelLoadError(
                        f"the model takes one tensor {node.name!r} of width {width}: "
                        "the descriptor must list its columns in `inputs`"
                    )
            if isinstance(width, int) and width != len(inputs):
                raise ModelLoadError(
                    f"`inputs` names {len(inputs)} fields, the model's input takes {width}"
                )
            self._input_names = list(inputs)
            self._tensor_input: tuple[str, npt.DTypeLike] | None = (
                node.name,
                _TENSOR_DTYPES[node.type],
            )
            self._column_inputs: list[tuple[str, npt.DTypeLike]] = []
        else:
            if inputs is not None and len(inputs) != len(graph_inputs):
                raise ModelLoadError(
                    f"`inputs` names {len(inputs)} fields, the model has {len(graph_inputs)} inputs"
                )
            self._input_names = list(inputs) if inputs else [n.name for n in graph_inputs]
            self._tensor_input = None
            self._column_inputs = [(n.name, _TENSOR_DTYPES[n.type]) for n in graph_inputs]

    def _bind_outputs(self) -> None:
        outputs = self._session.get_outputs()
        self._output_names = [o.name for o in outputs]
        label = next((o for o in outputs if "label" in o.name.lower()), None)
        proba = next((o for o in outputs if "prob" in o.name.lower()), None)
        self._label_output = label.name if label is not None else None
        self._proba_output = proba.name if proba is not None else None
        self._proba_is_map = proba is not None and proba.type.startswith("seq(map")
        # The precision the probabilities were computed in, kept so that the checks judge
        # their sum at it (a float32 sum over thousands of trees is off 1 by rounding).
        self._proba_dtype = (
            np.float32 if proba is not None and "tensor(float)" in proba.type else np.float64
        )
        if label is not None or proba is not None:
            self.kind = "classifier"
        elif len(outputs) == 1 and outputs[0].type in ("tensor(float)", "tensor(double)"):
            self.kind = "regressor"
        else:
            self.kind = "outputs"

    # -- the Model interface ------------------------------------------------------------------

    @property
    def input_names(self) -> Sequence[str]:
        return self._input_names

    @property
    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo("onnxruntime", ort.__version__)

    def predict(self, features: FloatMatrix) -> BatchResult:
        feeds: dict[str, Any]
        if self._tensor_input is not None:
            name, dtype = self._tensor_input
            feeds = {name: features.astype(dtype, copy=False)}
        else:
            feeds = {
                name: features[:, i : i + 1].astype(dtype)
                for i, (name, dtype) in enumerate(self._column_inputs)
            }
        outputs = dict(zip(self._output_names, self._session.run(None, feeds), strict=True))
        size = features.shape[0]
        if self.kind == "regressor":
            values = np.asarray(outputs[self._output_names[0]]).reshape(size, -1)[:, 0]
            return BatchResult("regressor", size, values=values.astype(np.float64))
        if self.kind == "classifier":
            return self._classify(outputs, size)
        return BatchResult("outputs", size, outputs=_split_outputs(outputs, size))

    def _classify(self, outputs: dict[str, Any], size: int) -> BatchResult:
        classes: list[str] | None = self._labels
        probabilities = None
        if self._proba_output is not None:
            raw = outputs[self._proba_output]
            if self._proba_is_map:
                # ZipMap output: one {class: p} dict per row; its keys are the class labels.
                keys = list(raw[0].keys()) if raw else []
                rows = [[row[k] for k in keys] for row in raw]
                probabilities = np.array(rows, self._proba_dtype)
                classes = classes or [str(k) for k in keys]
            else:
                probabilities = np.asarray(raw, dtype=self._proba_dtype).reshape(size, -1)
                declared = self._model_classes
                if not classes and declared and len(declared) == probabilities.shape[1]:
                    classes = declared
                classes = classes or [str(i) for i in range(probabilities.shape[1])]
        if self._labels is not None and probabilities is not None:
            labels = labels_from_indices(probabilities, self._labels)
        elif self._label_output is not None:
            labels = [str(v) for v in np.asarray(outputs[self._label_output]).reshape(-1).tolist()]
        else:
            assert probabilities is not None and classes is not None
            labels = labels_from_indices(probabilities, classes)
        if (
            classes is not None
            and probabilities is not None
            and len(classes) != probabilities.shape[1]
        ):
            raise ValueError(
                f"{len(classes)} labels for {probabilities.shape[1]} probability columns"
            )
        return BatchResult("classifier", size, labels, classes, probabilities)

    def close(self) -> None:
        # Sessions free their memory when collected; drop our reference now.
        del self._session


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


def _split_outputs(outputs: dict[str, Any], size: int) -> list[dict[str, Any]]:
    columns = {
        name: np.asarray(value).reshape(size, -1).tolist() for name, value in outputs.items()
    }
    return [
        {name: (col[i][0] if len(col[i]) == 1 else col[i]) for name, col in columns.items()}
        for i in range(size)
    ]
