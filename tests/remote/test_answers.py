"""A remote server's answers as results (remote/answers.py), the outputs a mapped
model asks for, and Hypothesis: whatever a server answers, ``predict`` raises nothing but
ModelUnavailableError and ScoringError, and loading nothing but ModelLoadError and
DescriptorRejectedError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import (
    DescriptorRejectedError,
    ModelLoadError,
    ModelUnavailableError,
    ScoringError,
)
from service.oip.messages import Tensor
from service.remote.answers import result_of
from service.runtimes.checks import row_problems
from tests.remote.helpers import load_remote, wine_batch
from tests.remote.oip_test_server import oip_test_server


def tensor(name: str, data: Any, dtype: Any = None) -> Tensor:
    array = np.asarray(data, dtype=dtype)
    return Tensor(name, "X", array.shape, array)


def texts(*values: str) -> Any:
    return np.array(values, dtype=object)


def test_a_modelserve_peers_classifier() -> None:
    result = result_of(
        [
            tensor("label", texts("b", "a")),
            tensor("probabilities", [[0.25, 0.75], [0.5, 0.5]]),
            tensor("classes", texts("a", "b")),
        ],
        2,
        None,
        None,
    )
    assert result.rows() == [
        {"label": "b", "probabilities": {"a": 0.25, "b": 0.75}},
        {"label": "a", "probabilities": {"a": 0.5, "b": 0.5}},
    ]


def test_a_modelserve_peers_regressor() -> None:
    result = result_of([tensor("value", [[1.5], [2.0]])], 2, None, None)
    assert result.rows() == [{"value": 1.5}, {"value": 2.0}]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (np.array([6, 5], dtype=np.int64), [{"label": "6"}, {"label": "5"}]),
        (np.array([[6], [5]], dtype=np.int64), [{"label": "6"}, {"label": "5"}]),
        (texts("red", "white"), [{"label": "red"}, {"label": "white"}]),
        (np.array([6.0, 5.5], dtype=np.float32), [{"value": 6.0}, {"value": 5.5}]),
    ],
)
def test_one_output_by_its_form(data: Any, expected: list[dict[str, Any]]) -> None:
    assert result_of([tensor("out", data)], 2, None, None).rows() == expected


def test_one_output_of_probabilities_named_by_labels_or_by_column() -> None:
    p = [[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]]
    named = result_of([tensor("y", p)], 2, None, ["x", "y", "z"])
    assert named.labels == ["y", "x"] and list(named.classes or ()) == ["x", "y", "z"]
    numbered = result_of([tensor("y", p)], 2, None, None)
    assert numbered.labels == ["1", "0"] and list(numbered.classes or ()) == ["0", "1", "2"]
    assert row_problems(numbered) == {}
    with pytest.raises(ScoringError, match="name 2 classes"):
        result_of([tensor("y", p)], 2, None, ["x", "y"])


def test_outputs_mapped_as_mlservers_scikit_learn_runtime_names_them() -> None:
    outputs = [
        tensor("predict", np.array([4, 3], dtype=np.int64)),
        tensor("predict_proba", [[0.2, 0.8], [0.9, 0.1]]),
    ]
    mapping = {"label": "predict", "probabilities": "predict_proba"}
    result = result_of(outputs, 2, mapping, ["3", "4"])
    assert result.rows()[0] == {"label": "4", "probabilities": {"3": 0.2, "4": 0.8}}
    with pytest.raises(ScoringError, match="no output 'predict_proba'"):
        result_of(outputs[:1], 2, mapping, ["3", "4"])


def test_several_unnamed_outputs_pass_through() -> None:
    result = result_of([tensor("a", [1.0, 2.0]), tensor("b", texts("x", "y"))], 2, None, None)
    assert result.rows() == [{"outputs": {"a": 1.0, "b": "x"}}, {"outputs": {"a": 2.0, "b": "y"}}]


@pytest.mark.parametrize(
    "outputs",
    [
        [tensor("label", texts("a"))],  # 1 row for 2
        [tensor("value", texts("a", "b"))],  # text as a value
        [tensor("probabilities", [0.5, 0.5]), tensor("label", texts("a", "b"))],
        [tensor("label", texts("a", "b")), tensor("probabilities", [[0.5, 0.5]] * 2)],
        [tensor("label", np.zeros((2, 2, 2)))],
        [tensor("x", 1.0)],
        [],
    ],
)
def test_answers_that_do_not_fit_the_batch_are_scoring_errors(outputs: list[Tensor]) -> None:
    with pytest.raises(ScoringError):
        result_of(outputs, 2, None, None)


def test_a_mapped_model_asks_for_its_outputs_by_name() -> None:
    def infer(request: dict[str, Any]) -> tuple[int, Any]:
        rows = request["inputs"][0]["shape"][0]
        return 200, {
            "model_name": "wine",
            "outputs": [
                {"name": "predict", "datatype": "INT64", "shape": [rows], "data": [4] * rows},
                {
                    "name": "predict_proba",
                    "datatype": "FP64",
                    "shape": [rows, 2],
                    "data": [0.25, 0.75] * rows,
                },
            ],
        }

    with oip_test_server() as server:
        server.script.infer = infer
        model = load_remote(
            server.url,
            output_map={"label": "predict", "probabilities": "predict_proba"},
            labels=["3", "4"],
        )
        result = model.predict(wine_batch(model, 3))
        model.close()
    assert server.infers()[0]["outputs"] == [{"name": "predict"}, {"name": "predict_proba"}]
    assert result.rows()[2] == {"label": "4", "probabilities": {"3": 0.25, "4": 0.75}}


# --- whatever a server answers ---------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_DATATYPES = st.sampled_from(["BYTES", "FP32", "FP64", "INT64", "BOOL", "UINT8", "FP16", "X"])
_OUTPUT = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["label", "probabilities", "classes", "value", "predict", "o"]),
        "datatype": _DATATYPES,
        "shape": st.lists(st.integers(-1, 4), max_size=3),
        "data": JSON,
    }
)
ANSWERS = JSON | st.fixed_dictionaries({"outputs": st.lists(_OUTPUT, max_size=3)})
STATUSES = st.sampled_from([200, 200, 200, 400, 404, 422, 500, 503])


def test_whatever_a_server_answers_predict_raises_only_the_engines_errors() -> None:
    with oip_test_server() as server:
        model = load_remote(server.url)
        batch = wine_batch(model, 3)

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(answer=ANSWERS, status=STATUSES)
        def answers(answer: Any, status: int) -> None:
            server.script.infer = lambda request: (status, answer)
            try:
                result = model.predict(batch)
            except (ModelUnavailableError, ScoringError):
                return
            assert result.size == 3
            row_problems(result)  # the checks read it without failing

        try:
            answers()
        finally:
            model.close()


def test_whatever_a_server_says_of_its_model_loading_raises_only_load_errors() -> None:
    with oip_test_server() as server:

        @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            metadata=JSON
            | st.fixed_dictionaries(
                {"name": st.just("wine"), "inputs": st.lists(_OUTPUT, max_size=3)}
            ),
            status=STATUSES,
        )
        def metadata(metadata: Any, status: int) -> None:
            server.script.metadata, server.script.metadata_status = metadata, status
            try:
                model = load_remote(server.url, timeout_s=2.0)
            except (ModelLoadError, DescriptorRejectedError):
                return
            model.close()

        metadata()
