"""Never a wrong answer published: whatever a runtime returns, what is published has only
finite probabilities that sum to 1 and finite values; everything else is refused with the
engine named. Properties over the output encoder, and the engine and loader that use it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from service.control.loader import warm_up
from service.errors import ModelLoadError, ScoringError
from service.inputs.schema import FloatMatrix, InputSchema, TypedBatch
from service.metrics import Metrics
from service.routing.registry import Registry
from service.runtimes.answers import encode_results, publishable_results
from service.runtimes.base import AnswerShape, BatchResult, RuntimeInfo
from service.runtimes.checks import PROBABILITY_SUM_TOLERANCE, row_problems
from service.scoring.engine import Engine
from service.scoring.records import LocalRecord
from service.serving.descriptor import ModelDescriptor

RUNTIME = RuntimeInfo("engine", "9.9", "try the other engine")
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


def sound_probabilities(row: list[float]) -> bool:
    finite = all(math.isfinite(p) for p in row)
    return finite and min(row) >= 0 and abs(sum(row) - 1) <= PROBABILITY_SUM_TOLERANCE


@st.composite
def classifier_results(draw: st.DrawFn) -> BatchResult:
    size = draw(st.integers(1, 8))
    k = draw(st.integers(1, 4))
    # Half the rows are well formed (normalised draws), the rest anything at all.
    raw = draw(arrays(np.float64, (size, k), elements=ANY_FLOAT))
    weights = draw(arrays(np.float64, (size, k), elements=st.floats(0.01, 10)))
    chosen = draw(arrays(np.bool_, (size,)))
    normalised = weights / weights.sum(axis=1, keepdims=True)
    matrix = np.where(chosen[:, None], normalised, raw)
    classes = [f"c{j}" for j in range(k)]
    labels = [classes[int(j)] for j in np.argmax(np.nan_to_num(matrix), axis=1)]
    return BatchResult("classifier", size, labels, classes, matrix)


@given(classifier_results())
def test_published_probabilities_are_finite_and_sum_to_one(result: BatchResult) -> None:
    encoded = encode_results(result)
    assert result.probabilities is not None
    for i, row in enumerate(publishable_results(result, RUNTIME)):
        sound = sound_probabilities(result.probabilities[i].tolist())
        if isinstance(row, bytes):
            assert sound and row == encoded[i]  # a sound row is published unchanged
            assert b"NaN" not in row and b"Infinity" not in row and b"null" not in row
            published = list(orjson.loads(row)["probabilities"].values())
            assert sound_probabilities(published)
        else:
            assert not sound
            assert isinstance(row, ScoringError) and row.reason == "scoring-error"
            assert str(row).startswith("engine 9.9 returned")
            assert str(row).endswith("try the other engine")


@given(arrays(np.float64, st.integers(1, 10), elements=ANY_FLOAT))
def test_published_values_are_finite(values: FloatMatrix) -> None:
    result = BatchResult("regressor", len(values), values=values)
    for value, row in zip(values.tolist(), publishable_results(result, RUNTIME), strict=True):
        assert isinstance(row, bytes) == math.isfinite(value)
        if isinstance(row, bytes):
            assert orjson.loads(row) == {"value": value}


JSON_LEAVES = st.none() | st.booleans() | st.integers(-9, 9) | ANY_FLOAT | st.text(max_size=3)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


def finite_and_present(value: Any) -> bool:
    if isinstance(value, dict):
        return all(finite_and_present(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_and_present(v) for v in value)
    return value is not None and (not isinstance(value, float) or math.isfinite(value))


@given(st.lists(st.dictionaries(st.text(max_size=3), JSON, max_size=3), min_size=1, max_size=5))
def test_published_outputs_hold_no_nan_or_null(outputs: list[dict[str, Any]]) -> None:
    result = BatchResult("outputs", len(outputs), outputs=outputs)
    for out, row in zip(outputs, publishable_results(result, RUNTIME), strict=True):
        assert isinstance(row, bytes) == finite_and_present(out)


def test_engine_errors_per_row_are_refused_with_their_reason() -> None:
    result = BatchResult(
        "regressor", 2, values=np.array([1.0, np.nan]), row_errors={1: "failed: bad input"}
    )
    assert row_problems(result) == {1: "failed: bad input"}


class NanForNegatives:
    """A classifier whose answer for rows with a negative input is NaN, like pypmml's for a
    tree leaf that omits classes."""

    input_schema = InputSchema.numeric(["a"])
    runtime = RuntimeInfo("nanny", "1.0", "use another engine")

    def predict(self, batch: TypedBatch) -> BatchResult:
        features = batch.matrix()
        p = np.where(features < 0, np.nan, 0.5)
        probabilities = np.hstack([p, 1 - p])
        return BatchResult(
            "classifier", len(features), ["x"] * len(features), ["x", "y"], probabilities
        )

    def close(self) -> None:
        pass


async def test_the_engine_dead_letters_refused_rows_as_scoring_errors() -> None:
    registry = Registry()
    descriptor = ModelDescriptor.model_validate(
        {"name": "n", "version": 1, "dataType": "d", "modelType": "PMML", "data": "AA=="}
    )
    registry.install(descriptor, NanForNegatives(), "0" * 64)
    records = [
        LocalRecord(orjson.dumps({"dataType": "d", "a": a}), topic="t", partition=0, offset=i)
        for i, a in enumerate([1, -1, 2])
    ]
    outcomes = await Engine(registry, Metrics(), None).score(records)
    assert [o.result for o in outcomes] == [
        {"label": "x", "probabilities": {"x": 0.5, "y": 0.5}},
        None,
        {"label": "x", "probabilities": {"x": 0.5, "y": 0.5}},
    ]
    error = outcomes[1].error
    assert isinstance(error, ScoringError) and error.reason == "scoring-error"
    assert "nanny 1.0 returned probabilities NaN or missing for class x, y" in str(error)
    assert str(error).endswith("use another engine")


def test_warm_up_refuses_a_model_whose_answer_fails_the_checks() -> None:
    class NanAlways(NanForNegatives):
        def predict(self, batch: TypedBatch) -> BatchResult:
            return super().predict(TypedBatch.of_matrix(batch.schema, batch.matrix() - 1))

    with pytest.raises(ModelLoadError, match=r"warm-up.*nanny 1.0 returned.*use another engine"):
        warm_up(NanAlways())
    warm_up(NanForNegatives())  # a sound answer loads


def test_float32_probabilities_are_judged_at_their_own_precision() -> None:
    """onnxruntime's probabilities are float32: six classes summing to 1 within a few float32
    ulps are sound; a real gap is not."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(6), size=1000).astype(np.float32)
    assert np.abs(p.astype(np.float64).sum(axis=1) - 1).max() > 0  # float32 rounding is there
    result = BatchResult("classifier", 1000, ["c0"] * 1000, [f"c{j}" for j in range(6)], p)
    assert row_problems(result) == {}
    p[0, 0] += np.float32(1e-3)  # a real gap, not rounding
    assert set(row_problems(result)) == {0}


def test_float32_sums_over_thousands_of_trees_are_rounding_not_wrong_answers() -> None:
    """A 2,000-tree forest's float32 probabilities are off 1 by a few 1e-6 (3.4e-6 seen):
    published. A sum 1e-3 off, a negative or a NaN is still refused."""
    p = np.array([[0.4999983, 0.5], [0.6, 0.399], [-0.1, 1.1], [np.nan, 1.0]], np.float32)
    result = BatchResult("classifier", 4, ["a"] * 4, ["a", "b"], p)
    assert set(row_problems(result)) == {1, 2, 3}


def test_warm_up_refuses_a_model_that_gives_no_answer() -> None:
    class NoLabel(NanForNegatives):
        def predict(self, batch: TypedBatch) -> BatchResult:
            return BatchResult(
                "classifier", batch.size, ["x"], answer_problems={0: "returned no label"}
            )

    with pytest.raises(ModelLoadError, match=r"nanny 1\.0 returned no label"):
        warm_up(NoLabel())


def test_scores_are_published_as_they_are_and_refused_only_when_not_numbers() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.2, np.nan, 0.3]])
    result = BatchResult("classifier", 2, ["0", "2"], scores=scores)
    assert row_problems(result) == {1: "returned the scores [0.2, nan, 0.3], not all numbers"}
    assert result.rows()[0] == {"label": "0", "scores": [0.9, 0.8, 0.1]}
    # Row sums 1.8 and 0.5: not a distribution, and not refused as one.
    fine = BatchResult("classifier", 2, ["0", "2"], scores=np.array([[0.9, 0.8], [0.2, 0.3]]))
    assert row_problems(fine) == {}
    assert [orjson.loads(b) for b in encode_results(fine)] == fine.rows()
    assert AnswerShape.of(fine).scores == 2
    assert fine.take([1]).rows() == [{"label": "2", "scores": [0.2, 0.3]}]
