"""A model in the protocol's terms: the tensors it takes and answers (its metadata), a
request's tensors bound to it (a typed batch), and its answer as output tensors.

What a model answers, by kind: a classifier ``label`` (BYTES ``[n]``), and where it gives them
``probabilities`` (FP64 ``[n, C]``) with ``classes`` (BYTES ``[C]``, their column order), or
raw ``scores`` (FP64 ``[n, C]``) that are not probabilities; a regressor ``value`` (FP64
``[n]``); any other model its own outputs by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import InvalidRecordError
from service.inputs.schema import TypedBatch
from service.inputs.tensor_binding import bind_tensors
from service.inputs.tensor_layout import TensorInput, default_layout
from service.oip.datatypes import datatype_of
from service.oip.messages import (
    ModelMetadata,
    OipError,
    OutputTensor,
    RequestedOutput,
    Tensor,
    TensorMetadata,
)
from service.runtimes.base import BatchResult
from service.serving.model import ServingModel

# The protocol's platform names, by the engine that answers (information only).
# The platform names Triton and KServe use, by model type; a type they have none for (a
# pickle) is named by the engine that answers for it (scikit-learn).
_PLATFORMS = {
    "ONNX": "onnx_onnxv1",
    "PMML": "pmml",
    "TENSORFLOW": "tensorflow_graphdef",
    "TENSORFLOWSAVED": "tensorflow_savedmodel",
    "H2O": "h2o_mojo",
    "PYTHON": "python",
}


def metadata(serving: ServingModel) -> ModelMetadata:
    return ModelMetadata(
        name=serving.name,
        versions=(str(serving.version),),
        platform=_PLATFORMS.get(serving.descriptor.model_type, serving.model.runtime.engine),
        inputs=tuple(_input_metadata(t) for t in serving.tensor_inputs),
        outputs=output_metadata(serving),
    )


def _input_metadata(entry: TensorInput) -> TensorMetadata:
    return TensorMetadata(entry.name, datatype_of(entry.dtype), (-1, *entry.shape))


def output_metadata(serving: ServingModel) -> tuple[TensorMetadata, ...]:
    shape = serving.shape
    if shape is None:
        return ()
    if shape.kind == "classifier":
        label = TensorMetadata("label", "BYTES", (-1,))
        if shape.scores is not None:
            scores = TensorMetadata("scores", "FP64", (-1, shape.scores))
            if not shape.classes:
                return (label, scores)
            return (label, scores, TensorMetadata("classes", "BYTES", (len(shape.classes),)))
        if not shape.classes:
            return (label,)
        width = len(shape.classes)
        return (
            label,
            TensorMetadata("probabilities", "FP64", (-1, width)),
            TensorMetadata("classes", "BYTES", (width,)),
        )
    if shape.kind == "regressor":
        return (TensorMetadata("value", "FP64", (-1,) if shape.scalar else (-1, -1)),)
    return tuple(
        TensorMetadata(
            o.name, "BYTES" if o.text else "FP64", (-1,) if o.width is None else (-1, o.width)
        )
        for o in shape.outputs
    )


def bind(serving: ServingModel, inputs: Sequence[Tensor]) -> TypedBatch:
    """The request's tensors as a batch for the model: one tensor per entry of its layout
    (what its metadata lists), or one per input of its schema; anything else is a 400 that
    says what the model takes."""
    model = serving.model
    given = {t.name: t for t in inputs}
    if len(given) != len(inputs):
        raise OipError(400, "an input is named twice")
    layout = serving.tensor_inputs
    if not _named(layout, given):
        layout = default_layout(model.input_schema)
        if not _named(layout, given):
            raise _unmatched(serving, given)
    rows = _rows(inputs)
    try:
        return bind_tensors(
            model.input_schema, layout, {name: t.data for name, t in given.items()}, rows
        )
    except InvalidRecordError as exc:
        raise OipError(400, str(exc)) from None


def _named(layout: Sequence[TensorInput], given: dict[str, Tensor]) -> bool:
    return len(layout) == len(given) and all(entry.name in given for entry in layout)


def _unmatched(serving: ServingModel, given: dict[str, Tensor]) -> OipError:
    expected = [entry.name for entry in serving.tensor_inputs]
    missing = [name for name in expected if name not in given]
    unknown = [name for name in given if name not in expected]
    problem = f"missing input(s) {missing}" if missing else f"unknown input(s) {unknown}"
    return OipError(400, f"{problem}: model {serving.name!r} takes {expected}")


def _rows(inputs: Sequence[Tensor]) -> int:
    if not inputs:
        raise OipError(400, "the request has no inputs")
    counts = {t.shape[0] if t.shape else -1 for t in inputs}
    if len(counts) != 1 or -1 in counts:
        raise OipError(400, "every input must have the batch's rows as its first dimension")
    if counts == {0}:  # a model called on no rows fails, and there is nothing to answer
        raise OipError(400, "the request has no rows (its inputs' first dimension is 0)")
    return counts.pop()


def answer_tensors(
    result: BatchResult, requested: Sequence[RequestedOutput] | None, binary: bool
) -> list[OutputTensor]:
    """The answer's output tensors, those requested (all when ``requested`` is None), each in
    binary when asked (per output, else the request's default)."""
    tensors = _all_tensors(result)
    if requested is None:
        return [OutputTensor(t, binary) for t in tensors.values()]
    chosen = []
    for want in requested:
        tensor = tensors.get(want.name)
        if tensor is None:
            raise OipError(400, f"unknown output {want.name!r}: the model answers {list(tensors)}")
        chosen.append(OutputTensor(tensor, binary if want.binary is None else want.binary))
    return chosen


def _all_tensors(result: BatchResult) -> dict[str, Tensor]:
    n = result.size
    if result.kind == "classifier":
        labels = np.array([str(v) for v in result.labels or ()], dtype=object)
        found = {"label": Tensor("label", "BYTES", (n,), labels)}
        if result.probabilities is not None and result.classes is not None:
            p = np.asarray(result.probabilities, dtype=np.float64).reshape(n, -1)
            found["probabilities"] = Tensor("probabilities", "FP64", p.shape, p)
        if result.scores is not None:
            scores = np.asarray(result.scores, dtype=np.float64).reshape(n, -1)
            found["scores"] = Tensor("scores", "FP64", scores.shape, scores)
        if result.classes is not None and (result.probabilities is not None or "scores" in found):
            classes = np.array([str(c) for c in result.classes], dtype=object)
            found["classes"] = Tensor("classes", "BYTES", classes.shape, classes)
        return found
    if result.kind == "regressor":
        values = np.asarray(result.values, dtype=np.float64)
        return {"value": Tensor("value", "FP64", values.shape, values)}
    found = {}
    for name in (result.outputs or [{}])[0]:
        array = _stacked([row[name] for row in result.outputs or ()])
        found[name] = Tensor(name, datatype_of(array.dtype), array.shape, array)
    return found


def _stacked(values: list[Any]) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.dtype.kind in "USO":
        return np.asarray(values, dtype=object).astype(str).astype(object)
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return array.astype(np.float64)
