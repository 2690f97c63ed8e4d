"""schemas/model_descriptor.schema.json and the service's own validation agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from service.control.descriptor import validate_descriptor
from service.errors import DescriptorRejectedError

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "schemas/model_descriptor.schema.json").read_text()
)
BASE: dict[str, Any] = {"name": "m-1", "dataType": "wine", "modelType": "onnx", "data": "AAEC"}
REMOTE: dict[str, Any] = {
    "name": "far",
    "dataType": "wine",
    "modelType": "remote",
    "endpoint": "http://mlserver:8080",
    "remoteModel": "wine-classifier",
}

CASES: list[tuple[dict[str, Any], bool]] = [
    (BASE, True),
    ({**BASE, "version": 2, "inputs": ["a"], "labels": [3, "x"], "metadata": {"k": 1}}, True),
    ({**BASE, "modelType": "PMML", "expiresAt": "2030-01-01T00:00:00Z"}, True),
    (
        {
            **{k: v for k, v in BASE.items() if k != "data"},
            "location": "file:///m",
            "sha256": "a" * 64,
        },
        True,
    ),
    ({**BASE, "fieldMap": {"a": "b"}, "rollback": True, "description": "d"}, True),
    ({k: v for k, v in BASE.items() if k != "name"}, False),
    ({k: v for k, v in BASE.items() if k != "dataType"}, False),
    ({k: v for k, v in BASE.items() if k != "data"}, False),
    ({**BASE, "location": "file:///m", "sha256": "a" * 64}, False),
    # A digest is the loader's to require: only it knows which prefixes are trusted.
    ({**{k: v for k, v in BASE.items() if k != "data"}, "location": "data/saved/1/"}, True),
    ({**BASE, "name": "bad\nname"}, False),
    ({**BASE, "name": "tensorflow saved model"}, True),
    ({**BASE, "name": "data/optimized_WineQuality"}, True),
    ({**BASE, "name": "route:wine"}, False),
    ({**BASE, "name": ".."}, False),
    ({**BASE, "name": "x" * 257}, False),
    ({**BASE, "modelType": "tensorflowsaved", "signatureName": "predict"}, True),
    ({**BASE, "modelType": "TENSORFLOW", "outputs": ["dense_3/Sigmoid"]}, True),
    ({**BASE, "modelType": "TENSORFLOW", "outputs": []}, False),
    ({**BASE, "modelType": "TENSORFLOW", "outputs": {"label": "predict"}}, False),
    ({**BASE, "outputs": ["y"]}, False),  # ONNX reads no `outputs`: refused, not ignored
    ({**BASE, "modelType": "TENSORFLOW", "signatureName": "predict"}, False),
    ({**BASE, "handler": "acme:load"}, False),
    ({**BASE, "modelType": "PYTHON", "handler": "acme.models:load"}, True),
    ({"name": "p", "dataType": "d", "modelType": "python", "handler": "acme"}, True),
    ({"name": "p", "dataType": "d", "modelType": "python"}, False),
    ({**BASE, "modelType": "PYTHON", "handler": "acme:bad-name"}, False),
    (REMOTE, True),
    ({**REMOTE, "remoteVersion": "2", "outputs": {"label": "predict"}}, True),
    ({**REMOTE, "outputs": {"score": "predict"}}, False),  # not a part of an answer
    ({**REMOTE, "outputs": ["predict"]}, False),
    ({**REMOTE, "data": "AA=="}, False),
    ({k: v for k, v in REMOTE.items() if k != "endpoint"}, False),
    ({**REMOTE, "endpoint": "ftp://models:21"}, False),
    ({**BASE, "endpoint": "http://mlserver:8080"}, False),
    ({**BASE, "remoteModel": "wine"}, False),
    ({**BASE, "modelType": "keras"}, False),
    ({**BASE, "version": 0}, False),
    ({**BASE, "version": 2**63 - 1}, True),
    ({**BASE, "version": 2**63}, False),
    ({**BASE, "sha256": "xyz"}, False),
    ({**BASE, "inputs": []}, False),
    ({**BASE, "unknown": 1}, False),
]


@pytest.mark.parametrize(("doc", "valid"), CASES)
def test_schema_and_validator_agree(doc: dict[str, Any], valid: bool) -> None:
    schema_ok = jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    try:
        validate_descriptor(doc)
        service_ok = True
    except DescriptorRejectedError:
        service_ok = False
    assert (schema_ok, service_ok) == (valid, valid)


def test_the_model_event_schema_is_the_typed_event() -> None:
    """schemas/model_event.schema.json is what `make schemas` writes from ModelEvent."""
    from service.tools.json_schemas import event_schema

    written = json.loads(
        (Path(__file__).resolve().parent.parent / "schemas/model_event.schema.json").read_text()
    )
    assert written == event_schema()


def test_events_validate_against_the_schema() -> None:
    from service.serving.events import ModelEvent
    from service.tools.json_schemas import event_schema

    validator = jsonschema.Draft202012Validator(event_schema())
    event = ModelEvent(
        name="m",
        version=2,
        data_type="wine",
        status="loaded",
        runtime="onnxruntime 1.31.1",
        input_schema=[{"name": "workclass", "type": "string"}, {"name": "x", "shape": [4]}],
        at="2026-11-21T12:00:00Z",
        instance="host:1",
        offset=7,
    )
    assert validator.is_valid(json.loads(event.to_json()))
    assert set(json.loads(event.to_json())) == {
        "kind",
        "mode",
        "members",
        "name",
        "version",
        "dataType",
        "status",
        "error",
        "runtime",
        "schema",
        "at",
        "instance",
        "offset",
    }
    assert not validator.is_valid({**json.loads(event.to_json()), "status": "exploded"})
    route_event = ModelEvent(
        kind="route",
        name="route:wine",
        version=None,
        data_type="wine",
        status="pending",
        error="waiting for b to serve",
        at="2026-11-21T12:00:00Z",
        instance="host:1",
        offset=8,
        mode="shadow",
        members=["a", "b"],
    )
    assert validator.is_valid(json.loads(route_event.to_json()))
