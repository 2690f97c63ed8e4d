"""How a PMML answer's columns become a BatchResult, for both engines alike."""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import ModelLoadError
from service.runtimes.checks import row_problems
from service.runtimes.pmml_layout import PmmlLayout

PROBABILITIES = [("p(3)", 3), ("p(5)", 5.0)]


def test_descriptor_labels_rename_the_predicted_label_like_the_probabilities() -> None:
    layout = PmmlLayout.of("classification", "y", PROBABILITIES, ["low", "high"])
    result = layout.result({"y": [5, 3], "p(3)": [0.25, 0.75], "p(5)": [0.75, 0.25]}, 2)
    assert result.labels == ["high", "low"] and result.classes == ["low", "high"]
    assert row_problems(result) == {}


def test_labels_that_do_not_match_the_probability_outputs_are_refused() -> None:
    with pytest.raises(ModelLoadError, match="3 labels for 2 probability outputs"):
        PmmlLayout.of("classification", "y", PROBABILITIES, ["a", "b", "c"])
    with pytest.raises(ModelLoadError, match="2 labels for 0 probability outputs"):
        PmmlLayout.of("classification", "y", [], ["a", "b"])


def test_a_classifier_without_a_label_column_takes_the_most_probable_class() -> None:
    layout = PmmlLayout.of("classification", None, PROBABILITIES, None)
    result = layout.result({"p(3)": [0.9, 0.2], "p(5)": [0.1, 0.8]}, 2)
    assert result.kind == "classifier" and result.labels == ["3", "5"]


def test_no_label_for_a_row_the_engine_did_not_refuse_is_an_unusable_answer() -> None:
    layout = PmmlLayout.of("classification", "y", PROBABILITIES, None)
    result = layout.result(
        {"y": [None, None, 3], "p(3)": [None, None, 1.0], "p(5)": [None, None, 0.0]},
        3,
        row_errors={1: "failed: invalid input"},
    )
    assert result.answer_problems == {0: "returned no label"}
    assert set(row_problems(result)) == {0, 1}
    assert row_problems(result)[1] == "failed: invalid input"


def test_regression_values_and_missing_ones() -> None:
    layout = PmmlLayout.of("regression", "y", [], None)
    result = layout.result({"y": [1.5, None]}, 2)
    assert result.values is not None
    assert result.values[0] == 1.5 and np.isnan(result.values[1])
    assert set(row_problems(result)) == {1}
