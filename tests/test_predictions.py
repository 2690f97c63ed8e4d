"""The output topic's bytes are exactly the contract's prediction document."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.descriptor import ModelDescriptor
from service.engine import Outcome
from service.predictions import PredictionEncoder, prediction_document
from service.records import LocalRecord
from service.registry import ServingModel
from service.runtimes.base import BatchResult


class Dummy:
    input_names = ("a",)

    def predict(self, features: object) -> BatchResult:
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
        result={"label": label, "probabilities": {label: probability}},
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
        result={"value": 5.5},
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
            record, result={"value": 1.0}, model=model, record_id="x", data_type="d", scored_ms=6
        )
        assert orjson.loads(encoder.encode(outcome))["model"] == {
            "name": model.name,
            "version": model.version,
        }


def test_unserialisable_results_fail_loudly() -> None:
    record = LocalRecord(b"{}", topic="t", partition=0, offset=1, timestamp=5)
    outcome = Outcome(
        record, result={"value": object()}, model=serving(), record_id="x", data_type="d"
    )
    with pytest.raises(TypeError):
        PredictionEncoder().encode(outcome)
