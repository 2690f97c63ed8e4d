"""``python -m service.tools.json_schemas`` (``make schemas``) writes the JSON Schemas of
the typed messages on Kafka: schemas/model_event.schema.json from ModelEvent,
schemas/route.schema.json from the route message and schemas/stats_snapshot.schema.json from
the stats topic's snapshot; a test checks the files are current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.cluster.snapshot import StatsSnapshot
from service.routing.route_spec import route_schema as route_message_schema
from service.serving.events import ModelEvent

EVENT_SCHEMA_PATH = Path("schemas/model_event.schema.json")
ROUTE_SCHEMA_PATH = Path("schemas/route.schema.json")
SNAPSHOT_SCHEMA_PATH = Path("schemas/stats_snapshot.schema.json")
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def event_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": "https://modelserve.dev/schemas/model_event.schema.json",
        **ModelEvent.model_json_schema(by_alias=True),
    }


def route_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": "https://modelserve.dev/schemas/route.schema.json",
        "title": "Route",
        "description": (
            "A route message: the value of a control record keyed route:<dataType>. "
            "A tombstone on that key removes the route."
        ),
        **route_message_schema(),
    }


def snapshot_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": "https://modelserve.dev/schemas/stats_snapshot.schema.json",
        "description": (
            "A process's stats snapshot: the value of a record on the stats topic, keyed by "
            "the instance (instance/w<i> for a worker), and GET /snapshot."
        ),
        **StatsSnapshot.model_json_schema(by_alias=True),
    }


if __name__ == "__main__":
    for path, schema in (
        (EVENT_SCHEMA_PATH, event_schema()),
        (ROUTE_SCHEMA_PATH, route_schema()),
        (SNAPSHOT_SCHEMA_PATH, snapshot_schema()),
    ):
        path.write_text(json.dumps(schema, indent=2) + "\n")
