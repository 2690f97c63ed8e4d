"""A learned model as one ONNX graph (running scaler, then the linear model) that the service's
ONNX runtime serves like any other version."""

from __future__ import annotations

from typing import Any

import onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

TARGET_OPSET = 17
INPUT_NAME = "X"
LABEL_OUTPUT = "label"


def pipeline_onnx(scaler: Any, model: Any, width: int, probabilities: bool) -> bytes:
    """The ONNX bytes of scaler → model on one tensor ``X`` of ``width`` doubles. A classifier
    keeps its probability output only when ``probabilities`` says it has real ones."""
    pipeline = Pipeline([("scaler", scaler), ("model", model)])
    classifier = is_classifier(model)
    # The service reads probabilities as a plain matrix beside the labels, not a ZipMap.
    options = {id(model): {"zipmap": False}} if classifier else None
    proto = convert_sklearn(
        pipeline,
        # Doubles: the service feeds the dtype the graph declares, and float32 would move the
        # answers of rows near the decision boundary away from the learner's own.
        initial_types=[(INPUT_NAME, DoubleTensorType([None, width]))],
        target_opset=TARGET_OPSET,
        options=options,
    )
    if classifier and not probabilities:
        # A hinge model's second output is decision scores, which skl2onnx still names
        # "probabilities" and no option removes; the service would refuse them (they do not
        # sum to 1), so the graph answers its label only.
        _keep_outputs(proto, {LABEL_OUTPUT})
    onnx.checker.check_model(proto)
    data: bytes = proto.SerializeToString()
    return data


def _keep_outputs(proto: Any, names: set[str]) -> None:
    kept = [output for output in proto.graph.output if output.name in names]
    if len(kept) != len(names):
        found = [output.name for output in proto.graph.output]
        raise ValueError(f"the graph's outputs are {found}, expected {sorted(names)}")
    del proto.graph.output[:]
    proto.graph.output.extend(kept)
