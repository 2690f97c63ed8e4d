"""A process's snapshot: what it shows of the registry and the counters, its schema file is
the typed snapshot's, and a real snapshot validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from service.cluster.snapshot import Identity, SnapshotTaker, StatsSnapshot
from service.metrics import Metrics
from service.tools.json_schemas import snapshot_schema
from tests.http.test_app import build
from tests.models import ModelFiles

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas/stats_snapshot.schema.json"


def test_the_schema_file_is_the_typed_snapshot() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == snapshot_schema()


def test_a_snapshot_shows_models_counts_partitions_and_states(model_files: ModelFiles) -> None:
    _, registry = build(model_files)
    metrics = Metrics()
    metrics.record_batch("rf", 4, "wine", 10, 0.002)
    metrics.record_batch("rf", 4, "wine", 5, 0.001)
    metrics.record_dead_letter("no-model")
    taker = SnapshotTaker(
        Identity("replica-a", 1),
        registry,
        metrics,
        lambda: {("data", 1): 7, ("data", 0): None},
        5.0,
    )
    snapshot = taker.take("stopped")
    doc = snapshot.document()
    jsonschema.Draft202012Validator(snapshot_schema()).validate(doc)
    assert snapshot.key == "replica-a/w1" and doc["state"] == "stopped"
    assert doc["stats"]["deadLetters"] == {"no-model": 1}
    assert doc["partitions"] == [
        {"topic": "data", "partition": 0, "lag": None},
        {"topic": "data", "partition": 1, "lag": 7},
    ]
    assert doc["models"] == [{"name": "rf", "version": 4, "dataType": "wine", "status": "serving"}]
    assert doc["scored"] == [
        {
            "name": "rf",
            "version": 4,
            "dataType": "wine",
            "records": 15,
            "batches": 2,
            "scoringMs": 3.0,
        }
    ]
    assert doc["states"]["wine"]["name"] == "rf"
    assert StatsSnapshot.model_validate_json(json.dumps(doc)) == snapshot
