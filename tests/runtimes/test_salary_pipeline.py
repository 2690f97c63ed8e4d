"""The census salary pipeline (OneHotEncoder on six string fields, a random forest), exported
three ways, served by each runtime through the typed batch: every answer equals
scikit-learn's own (labels exactly; probabilities within 1e-4 for ONNX's float32, 1e-6 for
the others), records with categories never seen in training included; each runtime reads the
input schema from the model; bad records are refused one by one, naming field and value."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import numpy as np
import pytest

from bench import salary
from service.control.loader import warm_up
from service.errors import InvalidRecordError
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch
from service.runtimes.base import BatchResult, Model
from service.runtimes.catalog import LoadOptions, LoadRequest
from service.runtimes.onnx import OnnxModel
from service.runtimes.pickle import PickleModel
from service.runtimes.pmml import open_pmml

KEY = "salary-key"
# runtime → (how it is loaded, the tolerance its probabilities meet)
RUNTIMES = {"onnx": 1e-4, "jpmml": 1e-6, "pypmml": 1e-6, "pickle": 1e-6}


def open_model(kind: str, exports: salary.Exports) -> Model:
    if kind == "onnx":
        model: Model = OnnxModel(exports.onnx, None, None)
    elif kind == "pickle":
        signature = hmac.new(KEY.encode(), exports.pickle, hashlib.sha256).hexdigest()
        model = PickleModel.load(exports.pickle, signature, KEY, None, None)
    else:
        model = open_pmml(exports.pmml, None, kind)  # type: ignore[arg-type]
    warm_up(model)  # the one-row warm-up from the schema passes
    return model


def with_unseen_categories(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` rows, spread over the batch, with a category no training row had."""
    changed = [dict(row) for row in rows]
    fields = list(salary.CATEGORIES)
    for n, i in enumerate(range(0, len(rows), len(rows) // count)):
        changed[i][fields[n % len(fields)]] = f"Never-seen-{n}"
    return changed


def score(
    model: Model, rows: list[dict[str, Any]]
) -> tuple[BatchResult, list[int], dict[int, Any]]:
    schema = model.input_schema
    batch, good, errors = build_batch(rows, FieldBinder(schema.names, None), schema)
    return model.predict(batch), good, errors


@pytest.mark.parametrize("kind", list(RUNTIMES))
def test_every_answer_is_scikit_learns(kind: str, salary_models: salary.Exports) -> None:
    model = open_model(kind, salary_models)
    rows = with_unseen_categories(salary.records(1000, seed=42), 20)
    result, good, errors = score(model, rows)
    assert errors == {} and good == list(range(1000))
    expected = salary_models.pipeline.predict_proba(salary.frame(rows))
    classes = [str(c) for c in salary_models.pipeline.classes_]
    assert list(result.classes or []) == classes
    assert list(result.labels or []) == list(salary_models.pipeline.predict(salary.frame(rows)))
    got = np.asarray(result.probabilities, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=RUNTIMES[kind])


def test_each_runtime_reads_the_schema_from_the_model(salary_models: salary.Exports) -> None:
    strings = set(salary.CATEGORIES)
    for kind in RUNTIMES:
        schema = open_model(kind, salary_models).input_schema
        types = {spec.name: spec.type for spec in schema.inputs}
        # skl2onnx writes the frame's names with '_' for '-'; the binder matches them.
        assert {name.replace("_", "-") for name in types} == set(salary.FIELDS), kind
        assert {n for n, t in types.items() if t == "string"} == {
            n for n in types if n.replace("_", "-") in strings
        }, kind
        numbers = {t for t in types.values() if t != "string"}
        assert numbers == {"onnx": {"integer"}, "pickle": {"double"}}.get(kind, {"float"}), kind
        assert all(spec.shape == () for spec in schema.inputs)


@pytest.mark.parametrize("kind", list(RUNTIMES))
def test_a_bad_record_costs_only_itself(kind: str, salary_models: salary.Exports) -> None:
    model = open_model(kind, salary_models)
    rows = salary.records(10, seed=5)
    rows[2]["age"] = "twenty"
    del rows[4]["education"]
    rows[6]["hours-per-week"] = [40]
    result, good, errors = score(model, rows)
    assert good == [0, 1, 3, 5, 7, 8, 9]
    assert all(isinstance(e, InvalidRecordError) for e in errors.values())
    assert str(errors[2]) == "feature 'age' is not a number: 'twenty'"
    assert str(errors[4]) == "missing feature 'education'"
    assert str(errors[6]) == "feature 'hours-per-week' is not a number: <list of 1 items>"
    kept = [rows[i] for i in good]
    assert list(result.labels or []) == list(salary_models.pipeline.predict(salary.frame(kept)))


def test_a_number_for_a_string_input_is_read_as_its_text(salary_models: salary.Exports) -> None:
    """Category codes: 7 and 7.0 both read as "7" (here an unseen category: the forest
    answers as scikit-learn does for "7")."""
    model = open_model("pickle", salary_models)
    rows = salary.records(3, seed=8)
    rows[0]["workclass"], rows[1]["workclass"] = 7, 7.0
    result, good, _ = score(model, rows)
    assert good == [0, 1, 2]
    as_text = [dict(row, workclass="7") if i < 2 else row for i, row in enumerate(rows)]
    expected = salary_models.pipeline.predict_proba(salary.frame(as_text))
    np.testing.assert_allclose(np.asarray(result.probabilities, float), expected, atol=1e-12)


def test_null_is_a_missing_value_where_the_model_takes_one(
    salary_models: salary.Exports,
) -> None:
    """A DataFrame takes NaN/None (scikit-learn's forest and encoder handle them); ONNX's
    string and integer inputs have no missing value, so the record is refused by name."""
    rows = salary.records(4, seed=9)
    rows[1]["age"], rows[2]["workclass"] = None, None
    result, good, errors = score(open_model("pickle", salary_models), rows)
    assert good == [0, 1, 2, 3] and not errors
    expected = salary_models.pipeline.predict_proba(salary.frame(rows))
    np.testing.assert_allclose(np.asarray(result.probabilities, float), expected, atol=1e-12)

    _, good, errors = score(open_model("onnx", salary_models), rows)
    assert good == [0, 3]
    assert "'age' is null, and the model's integer input takes no missing value" in str(errors[1])
    assert "'workclass' is null, and the model's string input" in str(errors[2])


def test_the_pickle_loads_through_the_catalog_with_its_columns(
    salary_models: salary.Exports,
) -> None:
    from service.runtimes.catalog import RUNTIMES as CATALOG

    signature = hmac.new(KEY.encode(), salary_models.pickle, hashlib.sha256).hexdigest()
    request = LoadRequest(salary_models.pickle, None, None, signature, LoadOptions(pickle_key=KEY))
    model = CATALOG.get("PICKLE").load(request)
    assert model.input_schema.names == list(salary.FIELDS)
