"""The output topic's bytes are exactly the contract's prediction document."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.inputs.schema import InputSchema, TypedBatch
from service.runtimes.answers import encode_results
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.outcome import Outcome
from service.scoring.predictions import PredictionEncoder, prediction_document
from service.scoring.records import LocalRecord
from service.serving.descriptor import ModelDescriptor
from service.serving.model import ServingModel


class Dummy:
    input_schema = InputSchema.numeric(["a"])
    runtime = RuntimeInfo("dummy", "1")

    def predict(self, batch: TypedBatch) -> BatchResult:
        raise NotImplementedError

    def close(self) -> None:
        pass


def serving(name: str = "m-1", version: int = 3) -> ServingModel:
    descriptor = ModelDescriptor.model_validate(
        {"name": name, "version": version, "dataType": "d", "modelType": "ONNX", "data": "AA=="}
    )
    return ServingModel(descriptor, Dummy(), "0" * 64)


@settings(max_examples=200, deadline=None)
@given(
    record_id=st.text(max_size=30),
    data_type=st.text(min_size=1, max_size=20),
    topic=st.text(min_size=1, max_size=20),
    partition=st.integers(0, 10_000),
    offset=st.integers(0, 2**62),
    label=st.text(max_size=10),
    probability=st.floats(0, 1),
)
def test_encoded_bytes_are_the_document(
    record_id: str,
    data_type: str,
    topic: str,
    partition: int,
    offset: int,
    label: str,
    probability: float,
) -> None:
    record = LocalRecord(
        b"{}", topic=topic, partition=partition, offset=offset, timestamp=1_700_000_000_123
    )
    outcome = Outcome(
        record,
        result_json=orjson.dumps({"label": label, "probabilities": {label: probability}}),
        model=serving(),
        record_id=record_id,
        data_type=data_type,
        scored_ms=1_700_000_000_456,
    )
    encoded = PredictionEncoder().encode(outcome)
    assert orjson.loads(encoded) == prediction_document(outcome)


def test_document_shape_and_http_form() -> None:
    record = LocalRecord(b"{}", topic="data", partition=2, offset=42, timestamp=100)
    outcome = Outcome(
        record,
        result_json=b'{"value":5.5}',
        model=serving("wine-rf", 3),
        record_id="r1",
        data_type="wine",
        scored_ms=111,
    )
    assert prediction_document(outcome) == {
        "id": "r1",
        "dataType": "wine",
        "model": {"name": "wine-rf", "version": 3},
        "result": {"value": 5.5},
        "source": {"topic": "data", "partition": 2, "offset": 42},
        "timestamps": {"ingested": 100, "scored": 111},
    }
    http = prediction_document(outcome, with_source=False)
    assert "source" not in http and http["timestamps"] == {"ingested": 111, "scored": 111}


def test_one_encoder_serves_several_models() -> None:
    encoder = PredictionEncoder()
    record = LocalRecord(b"{}", topic="t", partition=0, offset=1, timestamp=5)
    for model in (serving("a", 1), serving("b", 2)):
        outcome = Outcome(
            record,
            result_json=b'{"value":1.0}',
            model=model,
            record_id="x",
            data_type="d",
            scored_ms=6,
        )
        assert orjson.loads(encoder.encode(outcome))["model"] == {
            "name": model.name,
            "version": model.version,
        }


def test_unserialisable_results_fail_loudly() -> None:
    result = BatchResult("outputs", 1, outputs=[{"value": object()}])
    with pytest.raises(TypeError):
        encode_results(result)


floats = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 1)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    classes=st.lists(st.text(max_size=6), min_size=1, max_size=6),
    rows=st.integers(0, 8),
    float32=st.booleans(),
    with_probabilities=st.booleans(),
)
def test_classifier_rows_encode_as_dumps_would(
    data: st.DataObject, classes: list[str], rows: int, float32: bool, with_probabilities: bool
) -> None:
    """The column-wise encoding is byte for byte what dumping each row's dict gives, whatever
    the class names (``%``, quotes, repeats) or the numbers (NaN, infinities, float32)."""
    dtype = np.float32 if float32 else np.float64
    probabilities = np.array(
        data.draw(
            st.lists(
                st.lists(floats, min_size=len(classes), max_size=len(classes)),
                min_size=rows,
                max_size=rows,
            )
        ),
        dtype=np.float64,
    ).reshape(rows, len(classes))
    with np.errstate(over="ignore"):  # large doubles become float32 infinities: welcome
        probabilities = probabilities.astype(dtype)
    labels = data.draw(st.lists(st.sampled_from(classes), min_size=rows, max_size=rows))
    result = BatchResult(
        "classifier",
        rows,
        labels,
        classes if with_probabilities else None,
        probabilities if with_probabilities else None,
    )
    assert encode_results(result) == [orjson.dumps(row) for row in result.rows()]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(floats, max_size=8), float32=st.booleans())
def test_regressor_rows_encode_as_dumps_would(values: list[float], float32: bool) -> None:
    with np.errstate(over="ignore"):
        array = np.array(values, dtype=np.float64).astype(np.float32 if float32 else np.float64)
    result = BatchResult("regressor", len(values), values=array)
    assert encode_results(result) == [orjson.dumps(row) for row in result.rows()]


def test_a_misshapen_result_is_refused_not_misread() -> None:
    result = BatchResult("classifier", 2, ["a", "b"], ["a", "b"], np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"zip\(\)"):
        encode_results(result)


def test_labels_equal_as_keys_but_not_as_json_stay_apart() -> None:
    labels: list[Any] = [1, True, 1.0]  # runtimes give text; the encoder must not merge these
    result = BatchResult("classifier", 3, labels)
    assert encode_results(result) == [b'{"label":1}', b'{"label":true}', b'{"label":1.0}']
