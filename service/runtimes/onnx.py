"""ONNX models through onnxruntime: one session per model, one ``run`` per batch. The input
schema is the graph's: each input's element type (float, double, integer, bool, string) and
shape; the model's inputs are fed from the typed batch's columns in their element type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from service.errors import ModelLoadError
from service.inputs.schema import FLOATING_TYPES, InputSchema, InputSpec, InputType, TypedBatch
from service.inputs.tensor_layout import TensorInput
from service.runtimes.base import BatchResult, RuntimeInfo, labels_from_indices
from service.runtimes.catalog import LoadRequest
from service.runtimes.checks import FLOAT32_SUM_TOLERANCE
from service.runtimes.onnx_graph import model_class_labels, refuse_external_data, without_zipmap

# ONNX element type → the schema's type, and the numpy type the session is fed.
_ELEMENT_TYPES: dict[str, tuple[InputType, npt.DTypeLike]] = {
    "tensor(float)": ("float", np.float32),
    "tensor(double)": ("double", np.float64),
    "tensor(int64)": ("integer", np.int64),
    "tensor(int32)": ("integer", np.int32),
    "tensor(int16)": ("integer", np.int16),
    "tensor(int8)": ("integer", np.int8),
    "tensor(uint64)": ("integer", np.uint64),
    "tensor(uint32)": ("integer", np.uint32),
    "tensor(uint16)": ("integer", np.uint16),
    "tensor(uint8)": ("integer", np.uint8),
    "tensor(bool)": ("boolean", np.bool_),
    "tensor(string)": ("string", np.object_),
}


def load(request: LoadRequest) -> OnnxModel:
    return OnnxModel(
        request.artifact,
        request.inputs,
        request.labels,
        intra_op_threads=request.options.intra_op_threads,
    )


@dataclass(frozen=True)
class _Feed:
    """One graph input, and the schema inputs whose columns make it: one column (a scalar
    input), several side by side (one [N,k] tensor named column by column in ``inputs``), or
    one tensor column."""

    name: str
    dtype: npt.DTypeLike
    columns: tuple[str, ...]
    rank: int  # the graph input's rank: a scalar input of rank 1 is fed as [N], else [N,1]

    def array(self, batch: TypedBatch) -> npt.NDArray[Any]:
        if len(self.columns) > 1:
            if self.dtype is np.object_:
                return np.column_stack([batch.columns[c] for c in self.columns])
            return batch.matrix(self.columns).astype(self.dtype, copy=False)
        column = batch.columns[self.columns[0]]
        if column.ndim == 1 and self.rank != 1:
            column = column.reshape(-1, 1)
        if np.issubdtype(self.dtype, np.integer):
            _within(self.dtype, column, self.columns[0])
        return column.astype(self.dtype, copy=False)


class OnnxModel:
    """Inputs: one tensor of width k (columns named by the descriptor's ``inputs``), or one
    input per column (named as the graph names them, or positionally by ``inputs``), each a
    scalar or a tensor per row, of any element type. Outputs are read as a classifier (a label
    and/or a probability output), a regressor (one numeric output of width 1), or otherwise
    passed through as named outputs."""

    def __init__(
        self,
        artifact: bytes,
        inputs: Sequence[str] | None,
        labels: Sequence[str] | None,
        intra_op_threads: int = 1,
    ) -> None:
        proto = refuse_external_data(artifact)
        # Without `labels`, the probability columns are named by the classes the model
        # declares, so that they agree with its label output (never "0", "1" beside "<=50K").
        self._model_classes = model_class_labels(proto)
        if without_zipmap(proto):
            artifact = proto.SerializeToString()
        del proto
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
        self._schema, self._feeds = _bind_inputs(self._session.get_inputs(), inputs)
        self._bind_outputs()

    # -- loading ------------------------------------------------------------------------------

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
    def input_schema(self) -> InputSchema:
        return self._schema

    @property
    def tensor_inputs(self) -> tuple[TensorInput, ...]:
        """The graph's inputs as tensor clients send them: an [N,k] input as itself (``X``),
        one input per column under the column's name, in the graph's element types."""
        only = self._feeds[0] if len(self._feeds) == 1 else None
        if only is not None and only.rank == 2 and only.columns != (only.name,):
            # One [N,k] graph input whose columns the descriptor's `inputs` named.
            spec = self._schema.inputs[0]
            return (
                TensorInput.of_columns(only.name, only.columns, spec.type, np.dtype(only.dtype)),
            )
        by_name = {spec.name: spec for spec in self._schema.inputs}
        layout = [
            TensorInput.of_spec(by_name[f.columns[0]], np.dtype(f.dtype)) for f in self._feeds
        ]
        return tuple(layout)

    @property
    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo("onnxruntime", ort.__version__)

    def predict(self, batch: TypedBatch) -> BatchResult:
        feeds = {feed.name: feed.array(batch) for feed in self._feeds}
        outputs = dict(zip(self._output_names, self._session.run(None, feeds), strict=True))
        size = batch.size
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
            if self._proba_dtype == np.float32:
                probabilities = _without_rounding_below_zero(probabilities)
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


def _split_outputs(outputs: dict[str, Any], size: int) -> list[dict[str, Any]]:
    columns = {
        name: np.asarray(value).reshape(size, -1).tolist() for name, value in outputs.items()
    }
    return [
        {name: (col[i][0] if len(col[i]) == 1 else col[i]) for name, col in columns.items()}
        for i in range(size)
    ]


def _within(dtype: npt.DTypeLike, column: npt.NDArray[Any], name: str) -> None:
    """Numbers a narrow integer input (int8, uint16, ...) cannot hold would wrap around: the
    batch fails instead, and its rows are scored one by one, the out-of-range ones refused."""
    bounds = np.iinfo(dtype)
    if column.size and (column.min() < bounds.min or column.max() > bounds.max):
        raise ValueError(
            f"input {name!r} takes {np.dtype(dtype).name} ({bounds.min} to {bounds.max})"
        )


def _without_rounding_below_zero(probabilities: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A float32 probability of 0 computed as a sum over trees comes out as -1.2e-7 (rounding):
    read as 0, so that the checks, which refuse negative probabilities, refuse only real ones."""
    rounding = (probabilities < 0) & (probabilities >= -FLOAT32_SUM_TOLERANCE)
    return (
        np.where(rounding, 0, probabilities).astype(probabilities.dtype)
        if rounding.any()
        else probabilities
    )


def _bind_inputs(
    graph_inputs: Sequence[Any], inputs: Sequence[str] | None
) -> tuple[InputSchema, list[_Feed]]:
    """The schema, and how its columns feed the graph. ``inputs`` names the columns of one
    [N,k] tensor, or renames the graph's inputs in order."""
    for node in graph_inputs:
        if node.type not in _ELEMENT_TYPES:
            raise ModelLoadError(f"input {node.name!r} has unsupported type {node.type}")
    if len(graph_inputs) == 1 and len(graph_inputs[0].shape) == 2:
        node = graph_inputs[0]
        type_, dtype = _ELEMENT_TYPES[node.type]
        width = node.shape[-1]
        if inputs is None:
            if width != 1:
                raise ModelLoadError(
                    f"the model takes one tensor {node.name!r} of width {width}: "
                    "the descriptor must list its columns in `inputs`"
                )
            inputs = [node.name]
        if isinstance(width, int) and width != len(inputs):
            raise ModelLoadError(
                f"`inputs` names {len(inputs)} fields, the model's input takes {width}"
            )
        nullable = type_ in FLOATING_TYPES
        specs = tuple(InputSpec(name, type_, nullable=nullable) for name in inputs)
        return InputSchema(specs), [_Feed(node.name, dtype, tuple(inputs), 2)]
    if inputs is not None and len(inputs) != len(graph_inputs):
        raise ModelLoadError(
            f"`inputs` names {len(inputs)} fields, the model has {len(graph_inputs)} inputs"
        )
    names = list(inputs) if inputs else [node.name for node in graph_inputs]
    specs_list: list[InputSpec] = []
    feeds: list[_Feed] = []
    for name, node in zip(names, graph_inputs, strict=True):
        type_, dtype = _ELEMENT_TYPES[node.type]
        per_row = tuple(d if isinstance(d, int) and d > 0 else -1 for d in node.shape[1:])
        if per_row in ((), (1,)):
            per_row = ()  # [N] or [N,1]: one value per row
        elif type_ == "string":
            raise ModelLoadError(
                f"input {node.name!r} takes a tensor of strings per record, which modelserve "
                "does not feed: only one string per record and input"
            )
        specs_list.append(InputSpec(name, type_, per_row, nullable=type_ in FLOATING_TYPES))
        feeds.append(_Feed(node.name, dtype, (name,), len(node.shape)))
    return InputSchema(tuple(specs_list)), feeds
