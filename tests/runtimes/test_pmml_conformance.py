"""Both PMML engines against answers worked out without them: by hand from the structure a
document is written from, or by scikit-learn for the models sklearn2pmml exports. Where pypmml
is wrong the case is a strict xfail, so that a pypmml which fixes it is noticed, and the
service must refuse its wrong answers rather than publish them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from service.inputs.schema import TypedBatch
from service.runtimes.answers import publishable_results
from service.runtimes.base import BatchResult, Model
from service.runtimes.checks import row_problems
from service.runtimes.pmml import PmmlEngine, open_pmml
from service.wine import WINE_FIELDS, wine_arrays

from .pmml_documents import (
    Leaf,
    Linear,
    Matrix,
    Split,
    Tree,
    averaged_probabilities,
    averaging_forest,
    categorical_target,
    classifier_output,
    continuous_target,
    document,
    leaf_of,
    leaves,
    linear_regression,
    linear_value,
    regressor_output,
    rows_around,
    softmax_probabilities,
    softmax_regression,
    tree_model,
    tree_probabilities,
)

Row = Mapping[str, float]
FIELDS = ("x1", "x2", "x3")
WINE_LIKE = ("5", "6", "7", "8")
TREE = Split(
    "x1",
    4.5,
    Split("x2", 3.0, Leaf("5", {"5": 8, "6": 3}), Leaf("6", {"6": 12, "7": 4, "5": 1})),
    Split(
        "x3",
        6.25,
        Leaf("7", {"7": 9, "8": 2}),
        Split("x2", 7.5, Leaf("8", {"8": 5}), Leaf("6", {"5": 2, "6": 6, "7": 3, "8": 1})),
    ),
)
FOREST_CLASSES = ("3", "5", "7")
FOREST: tuple[Tree, ...] = (
    Split("x1", 5.0, Leaf("3", {"3": 6, "5": 2}), Leaf("7", {"7": 5, "5": 3})),
    Split(
        "x2",
        4.0,
        Leaf("5", {"5": 7, "7": 2}),
        Split("x3", 5.0, Leaf("3", {"3": 4}), Leaf("7", {"7": 6, "3": 1, "5": 2})),
    ),
    Split(
        "x3",
        3.0,
        Leaf("7", {"7": 3}),
        Split("x1", 7.0, Leaf("5", {"5": 5, "3": 2}), Leaf("3", {"3": 9, "7": 2})),
    ),
)
REGRESSION_TREE = Split(
    "x1",
    2.5,
    Leaf("12.5"),
    Split("x2", 7.25, Leaf("-3.75"), Split("x1", 8.0, Leaf("0.1"), Leaf("1000"))),
)
LINEAR = Linear(1.25, {"x1": 0.3, "x2": -1.7, "x3": 0.045})
SOFTMAX_CLASSES = ("low", "mid", "high")
SOFTMAX = (
    Linear(2.0, {"x1": -0.4, "x2": 0.1, "x3": -0.2}),
    Linear(0.5, {"x1": 0.05, "x2": 0.2, "x3": 0.01}),
    Linear(-3.0, {"x1": 0.45, "x2": -0.15, "x3": 0.3}),
)


@dataclass(frozen=True)
class Case:
    document: bytes
    rows: Sequence[Row]
    labels: list[str] | None = None
    classes: list[str] | None = None
    probabilities: Matrix | None = None
    values: Matrix | None = None


def classifier_case(
    document: bytes, rows: Sequence[Row], classes: Sequence[str], p: Matrix
) -> Case:
    """Label = the most probable class; a tie would leave it to each engine's tie-breaking."""
    top = np.sort(p, axis=1)
    assert (top[:, -1] - top[:, -2] > 1e-9).all()
    labels = [classes[i] for i in np.argmax(p, axis=1)]
    return Case(document, rows, labels, list(classes), p)


def covers_every_leaf(tree: Tree, rows: Sequence[Row]) -> bool:
    return {id(leaf_of(tree, r)) for r in rows} == {id(leaf) for leaf in leaves(tree)}


@cache
def spark_tree() -> Case:
    rows = rows_around(FIELDS, [TREE], 200, seed=1)
    assert covers_every_leaf(TREE, rows)
    model = tree_model(TREE, FIELDS, "classification", classifier_output(WINE_LIKE, "integer"))
    p = np.array([tree_probabilities(TREE, r, WINE_LIKE) for r in rows])
    # Spark's label is the leaf's score (its majority class), not derived from the row.
    labels = [leaf_of(TREE, r).score for r in rows]
    doc = document(FIELDS, categorical_target(WINE_LIKE, "integer"), model)
    return Case(doc, rows, labels, list(WINE_LIKE), p)


@cache
def spark_forest() -> Case:
    rows = rows_around(FIELDS, FOREST, 300, seed=2)
    assert all(covers_every_leaf(t, rows) for t in FOREST)
    assert any(len({leaf_of(t, r).score for t in FOREST}) > 1 for r in rows)
    model = averaging_forest(FOREST, FIELDS, classifier_output(FOREST_CLASSES, "string"))
    p = np.array([averaged_probabilities(FOREST, r, FOREST_CLASSES) for r in rows])
    doc = document(FIELDS, categorical_target(FOREST_CLASSES, "string"), model)
    return classifier_case(doc, rows, FOREST_CLASSES, p)


@cache
def regression_tree() -> Case:
    rows = rows_around(FIELDS[:2], [REGRESSION_TREE], 150, seed=3)
    assert covers_every_leaf(REGRESSION_TREE, rows)
    model = tree_model(REGRESSION_TREE, FIELDS[:2], "regression", regressor_output())
    values = np.array([float(leaf_of(REGRESSION_TREE, r).score) for r in rows])
    return Case(document(FIELDS[:2], continuous_target(), model), rows, values=values)


@cache
def linear_regression_case() -> Case:
    rows = rows_around(FIELDS, [], 100, seed=4)
    values = np.array([linear_value(LINEAR, r) for r in rows])
    doc = document(FIELDS, continuous_target(), linear_regression(LINEAR, FIELDS))
    return Case(doc, rows, values=values)


@cache
def softmax_regression_case() -> Case:
    rows = rows_around(FIELDS, [], 100, seed=5)
    model = softmax_regression(SOFTMAX, SOFTMAX_CLASSES, FIELDS, "string")
    p = np.array([softmax_probabilities(SOFTMAX, r) for r in rows])
    doc = document(FIELDS, categorical_target(SOFTMAX_CLASSES, "string"), model)
    return classifier_case(doc, rows, SOFTMAX_CLASSES, p)


HAND_BUILT: dict[str, Callable[[], Case]] = {
    "spark_tree": spark_tree,
    "spark_forest": spark_forest,
    "regression_tree": regression_tree,
    "linear_regression": linear_regression_case,
    "softmax_regression": softmax_regression_case,
}
EXPORTED = ("sklearn_logistic", "sklearn_mlp_classifier", "sklearn_mlp_regressor")
CASES = (*HAND_BUILT, *EXPORTED)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """sklearn2pmml starts a JVM per export (seconds each): once per module."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn2pmml import PMMLPipeline, sklearn2pmml

    features, labels = wine_arrays()
    # Trained and scored in float64, the precision both engines compute in.
    frame = pd.DataFrame(features.astype(np.float64), columns=list(WINE_FIELDS))
    quality = pd.Series(labels, name="quality")
    sample = frame.sample(200, random_state=6)
    rows = [dict(zip(WINE_FIELDS, map(float, r), strict=True)) for r in sample.to_numpy()]
    estimators: dict[str, tuple[Any, Any]] = {
        "sklearn_logistic": (LogisticRegression(max_iter=2000), quality),
        "sklearn_mlp_classifier": (
            MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=300, random_state=1),
            quality,
        ),
        "sklearn_mlp_regressor": (
            MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=1),
            quality.astype(np.float64),
        ),
    }
    folder = tmp_path_factory.mktemp("sklearn2pmml")
    cases = {}
    for name, (estimator, target) in estimators.items():
        pipeline = PMMLPipeline([("scaler", StandardScaler()), ("model", estimator)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a small MLP stops before it converges
            pipeline.fit(frame, target)
        path = folder / f"{name}.pmml"
        sklearn2pmml(pipeline, str(path))
        doc = Path(path).read_bytes()
        if hasattr(estimator, "classes_"):
            classes = [str(c) for c in estimator.classes_]
            p = np.asarray(pipeline.predict_proba(sample), dtype=np.float64)
            labels_ = [str(v) for v in pipeline.predict(sample)]
            cases[name] = Case(doc, rows, labels_, classes, p)
        else:
            values = np.asarray(pipeline.predict(sample), dtype=np.float64)
            cases[name] = Case(doc, rows, values=values)
    return cases


def load_case(name: str, request: pytest.FixtureRequest) -> Case:
    if name in HAND_BUILT:
        return HAND_BUILT[name]()
    cases: dict[str, Case] = request.getfixturevalue("exported")
    return cases[name]


def score(case: Case, engine: PmmlEngine) -> tuple[Model, BatchResult]:
    model = open_pmml(case.document, None, engine)
    names = model.input_schema.names
    assert set(names) == set(case.rows[0])
    matrix = [[r[n] for n in names] for r in case.rows]
    return model, model.predict(TypedBatch.of_matrix(model.input_schema, matrix))


# What pypmml 1.5.8 was seen to return for these cases.
PYPMML_WRONG = {
    "spark_tree": "pypmml 1.5.8: NaN, not 0, for every class a leaf's ScoreDistribution omits",
    "spark_forest": (
        "pypmml 1.5.8: NaN for a class whenever any tree's leaf omits it (the NaN survives "
        "the average: every row here), and labels that are not the argmax of the averaged "
        "probabilities (most rows)"
    ),
}


def engine_params() -> Iterator[Any]:
    for name in CASES:
        yield pytest.param(name, "jpmml", id=f"{name}-jpmml")
        wrong = PYPMML_WRONG.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=wrong)] if wrong else []
        yield pytest.param(name, "pypmml", marks=marks, id=f"{name}-pypmml")


@pytest.mark.parametrize(("name", "engine"), list(engine_params()))
def test_engine_gives_the_expected_answers(
    name: str, engine: PmmlEngine, request: pytest.FixtureRequest
) -> None:
    case = load_case(name, request)
    _, result = score(case, engine)
    assert dict(result.row_errors) == {}
    if case.values is not None:
        assert result.kind == "regressor" and result.values is not None
        np.testing.assert_allclose(result.values, case.values, rtol=0, atol=1e-9)
        return
    assert result.kind == "classifier" and result.probabilities is not None
    assert case.probabilities is not None
    assert list(result.classes or ()) == case.classes
    assert list(result.labels or ()) == case.labels
    np.testing.assert_allclose(result.probabilities, case.probabilities, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_jpmml_answers_pass_the_checks(name: str, request: pytest.FixtureRequest) -> None:
    _, result = score(load_case(name, request), "jpmml")
    assert row_problems(result) == {}


@pytest.mark.parametrize("name", list(PYPMML_WRONG))
def test_pypmml_never_publishes_a_wrong_answer(name: str, request: pytest.FixtureRequest) -> None:
    """Every row is either refused, naming the engine and the one to use instead, or right."""
    case = load_case(name, request)
    labels, classes, probabilities = case.labels, case.classes, case.probabilities
    assert labels is not None and classes is not None and probabilities is not None
    model, result = score(case, "pypmml")
    published = publishable_results(result, model.runtime)
    assert len(published) == len(case.rows)
    for i, row in enumerate(published):
        if not isinstance(row, bytes):
            assert str(row).startswith(f"pypmml {version('pypmml')} ")
            assert "MODELSERVE_PMML_ENGINE=jpmml" in str(row)
            continue
        answer = orjson.loads(row)
        assert answer["label"] == labels[i]
        assert set(answer["probabilities"]) == set(classes)
        got = [answer["probabilities"][c] for c in classes]
        np.testing.assert_allclose(got, probabilities[i], rtol=0, atol=1e-9)
