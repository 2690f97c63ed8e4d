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
WRITTEN_BEFORE = Path(__file__).resolve().parent / "data/snapshot_0.1.0.json"


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


def test_a_snapshot_the_untyped_writer_wrote_still_reads_and_writes_the_same() -> None:
    """Written by 0.1.0 before the state was typed (every route mode): it validates against
    the schema and the types, and is written again with the same keys and values."""
    doc = json.loads(WRITTEN_BEFORE.read_text())
    jsonschema.Draft202012Validator(snapshot_schema()).validate(doc)
    snapshot = StatsSnapshot.model_validate(doc)
    assert snapshot.document() == doc
    modes = {dt: s.route.mode for dt, s in snapshot.states.items() if s.route is not None}
    assert modes == {
        "shadow": "shadow",
        "canary": "canary",
        "ensemble": "ensemble",
        "speculative": "speculative",
    }


def test_a_newer_writers_snapshot_is_read_with_what_it_adds() -> None:
    doc = json.loads(WRITTEN_BEFORE.read_text())
    doc["gcPauses"] = 3
    doc["stats"]["p99Ms"] = 1.5
    doc["states"]["shadow"]["warmth"] = "high"
    doc["states"]["shadow"]["route"]["shadows"]["watcher"]["drift"] = 0.1
    doc["states"]["canary"]["route"]["members"]["new"]["weight"] = 1
    doc["states"]["alone"]["route"] = {"mode": "mirror", "models": {}, "mirrored": 4}
    jsonschema.Draft202012Validator(snapshot_schema()).validate(doc)
    snapshot = StatsSnapshot.model_validate(doc)
    written = snapshot.document()
    assert written["states"]["shadow"]["warmth"] == "high"
    assert written["states"]["shadow"]["route"]["shadows"]["watcher"]["drift"] == 0.1
    assert written["states"]["alone"]["route"] == {"mode": "mirror", "models": {}, "mirrored": 4}
    assert "gcPauses" not in written and "p99Ms" not in written["stats"]  # as before
