"""Learned models as ONNX: loaded, warmed up and served by the service's own ONNX runtime,
answering what the learner itself predicts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from sklearn.pipeline import Pipeline

from service.control.loader import warm_up
from service.inputs.schema import FloatMatrix, TypedBatch
from service.learning.algorithms import OnlineModel
from service.learning.export import TARGET_OPSET
from service.runtimes.base import BatchResult
from service.runtimes.onnx import OnnxModel
from tests.learning.streams import (
    CASES,
    INPUTS,
    Case,
    case_id,
    classes_for,
    features,
    new_model,
    stream,
)

TRAINING_ROWS = 300
HINGE = [c for c in CASES if c[0] == "pa-classifier"]
LOGISTIC = [c for c in CASES if c[0] == "logistic-sgd"]


@pytest.fixture(scope="module")
def trained() -> Callable[[Case], OnlineModel]:
    made: dict[Case, OnlineModel] = {}

    def get(case: Case) -> OnlineModel:
        if case not in made:
            model = new_model(case)
            model.test_then_train(*stream(classes_for(*case), TRAINING_ROWS, seed=1))
            made[case] = model
        return made[case]

    return get


def served(model: OnlineModel) -> OnnxModel:
    artifact, labels = model.to_onnx()
    return OnnxModel(artifact, model.inputs, labels)


def scored(onnx_model: OnnxModel, rows: FloatMatrix) -> BatchResult:
    """The rows as the engine hands them to the model: a batch typed to its schema."""
    return onnx_model.predict(TypedBatch.of_matrix(onnx_model.input_schema, rows))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_service_answers_what_the_learner_predicts(
    case: Case, trained: Callable[[Case], OnlineModel]
) -> None:
    model = trained(case)
    onnx_model = served(model)
    shape = warm_up(onnx_model)  # the loader's own check: raises if it would refuse the model
    assert shape.kind == model.kind
    fresh = features(500, seed=42)
    result = scored(onnx_model, fresh)
    own = model.predict(fresh)
    if model.kind == "classifier":
        assert list(result.labels or []) == own
    else:
        # Doubles throughout: far closer than float32's ~1e-5.
        np.testing.assert_allclose(
            np.asarray(result.values), np.asarray(own, dtype=np.float64), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("case", HINGE, ids=case_id)
def test_a_hinge_classifier_answers_labels_only(
    case: Case, trained: Callable[[Case], OnlineModel]
) -> None:
    model = trained(case)
    artifact, labels = model.to_onnx()
    assert labels is None
    graph = onnx.load_from_string(artifact).graph
    assert [o.name for o in graph.output] == ["label"]  # its decision scores are not served
    onnx_model = OnnxModel(artifact, model.inputs, labels)
    assert warm_up(onnx_model).classes is None
    rows = scored(onnx_model, features(20, seed=3)).rows()
    assert all(set(row) == {"label"} for row in rows)


@pytest.mark.parametrize("case", LOGISTIC, ids=case_id)
def test_logistic_probabilities_are_served(
    case: Case, trained: Callable[[Case], OnlineModel]
) -> None:
    model = trained(case)
    artifact, labels = model.to_onnx()
    assert labels == sorted(model.classes or [])  # sklearn orders the classes
    onnx_model = OnnxModel(artifact, model.inputs, labels)
    assert warm_up(onnx_model).classes == tuple(labels)
    fresh = features(500, seed=8)
    result = scored(onnx_model, fresh)
    assert result.probabilities is not None
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-12)
    pipeline = Pipeline([("scaler", model._scaler), ("model", model._model)])
    np.testing.assert_allclose(result.probabilities, pipeline.predict_proba(fresh), atol=1e-12)
    assert set(result.rows()[0]["probabilities"]) == set(labels)


def test_the_graph_takes_one_tensor_x_of_doubles(trained: Callable[[Case], OnlineModel]) -> None:
    model = trained(("sgd-regressor", False))
    proto = onnx.load_from_string(model.to_onnx()[0])
    (graph_input,) = proto.graph.input
    assert graph_input.name == "X"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert graph_input.type.tensor_type.shape.dim[1].dim_value == len(INPUTS)
    # target_opset is a ceiling: skl2onnx declares the lowest opset the graph's operators need.
    assert {o.domain: o.version for o in proto.opset_import}[""] <= TARGET_OPSET


def test_a_model_that_learned_nothing_is_not_exported() -> None:
    with pytest.raises(ValueError, match="learned nothing"):
        new_model(("pa-regressor", False)).to_onnx()
