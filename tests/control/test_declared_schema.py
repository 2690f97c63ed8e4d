"""The descriptor's ``schema``: the inputs of a model whose format does not say them (a pickle
fit on an array), checked against the model where it does say them (ONNX, PMML), and refused
when malformed."""

from __future__ import annotations

import hashlib
import hmac
import io
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from service.control.descriptor import validate_descriptor
from service.control.loader import Loader
from service.errors import DescriptorRejectedError, ModelLoadError
from service.inputs.conversion import typed_batch
from service.inputs.schema import InputSpec
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.wine import WINE_FIELDS
from tests.models import ModelFiles

KEY = "k"


def descriptor(**fields: Any) -> ModelDescriptor:
    return ModelDescriptor.model_validate({"name": "m", "version": 1, "dataType": "d", **fields})


def signed_pickle(estimator: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    data = buffer.getvalue()
    signature = hmac.new(KEY.encode(), data, hashlib.sha256).hexdigest()
    return {"modelType": "PICKLE", "data": data, "signature": signature}


async def test_a_pickle_fit_on_an_array_of_mixed_columns_takes_the_declared_schema() -> None:
    """Column 0 is text (one-hot encoded by position), column 1 a number: nothing in the
    pickle names or types them; the descriptor's schema does."""
    x = np.array([["red", 1.0], ["blue", 2.0], ["red", 3.0], ["green", 0.5]] * 5, dtype=object)
    y = ["a", "b", "a", "b"] * 5
    encode = ColumnTransformer([("colour", OneHotEncoder(), [0])], remainder="passthrough")
    model = Pipeline([("encode", encode), ("fit", LogisticRegression())]).fit(x, y)
    schema = [{"name": "colour", "type": "string"}, {"name": "size"}]
    loaded = await Loader(Settings(pickle_key=KEY)).load(
        descriptor(**signed_pickle(model), schema=schema)
    )
    assert loaded.model.input_schema.inputs == (
        InputSpec("colour", "string"),
        InputSpec("size", "double"),
    )
    rows = [{"colour": "blue", "size": 2.0}, {"colour": "red", "size": 1.0}]
    result = loaded.model.predict(typed_batch(loaded.model.input_schema, rows))
    assert list(result.labels or []) == list(
        model.predict(np.array([["blue", 2.0], ["red", 1.0]], dtype=object))
    )


async def test_a_schema_that_contradicts_the_model_fails_the_load(
    model_files: ModelFiles,
) -> None:
    onnx = model_files.forest_onnx.read_bytes()
    schema: list[dict[str, Any]] = [{"name": name} for name in WINE_FIELDS]
    loader = Loader(Settings())
    loaded = await loader.load(descriptor(modelType="ONNX", data=onnx, schema=schema))
    assert loaded.model.input_schema.names == list(WINE_FIELDS)  # names from the schema
    schema[0] = {"name": WINE_FIELDS[0], "type": "string"}
    with pytest.raises(ModelLoadError, match="the model takes float"):
        await loader.load(descriptor(modelType="ONNX", data=onnx, schema=schema))
    pmml = model_files.forest_pmml.read_bytes()
    with pytest.raises(ModelLoadError, match="the descriptor's schema names"):
        await loader.load(descriptor(modelType="PMML", data=pmml, schema=[{"name": "x"}]))


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ([], "at least one input"),
        ([{"name": "a"}, {"name": "a"}], "names an input twice"),
        ([{"name": "a", "type": "text"}], "schema.0.type"),
        ([{"name": "a", "shape": [0]}], "a dimension is -1"),
        ([{"name": "a", "shape": [1] * 9}], "schema.0.shape"),
        ([{"name": "a", "unit": "cm"}], "schema.0.unit"),
        ([{"name": ""}], "schema.0.name"),
    ],
)
def test_a_malformed_schema_is_rejected_by_name(schema: list[Any], why: str) -> None:
    doc = {"name": "m", "dataType": "d", "modelType": "ONNX", "data": "AA==", "schema": schema}
    with pytest.raises(DescriptorRejectedError, match=why):
        validate_descriptor(doc)


def test_inputs_and_schema_must_agree() -> None:
    doc = {"name": "m", "dataType": "d", "modelType": "ONNX", "data": "AA==", "inputs": ["b"]}
    with pytest.raises(DescriptorRejectedError, match="inputs and schema name different"):
        validate_descriptor(doc | {"schema": [{"name": "a"}]})
    assert validate_descriptor(doc | {"schema": [{"name": "b"}]}).input_names() == ["b"]
