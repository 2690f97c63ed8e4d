"""``python -m service.control.json_schemas`` (``make schemas``) writes the JSON Schemas of
the control plane's typed messages: schemas/model_event.schema.json from ModelEvent and
schemas/route.schema.json from the route message; a test checks both files are current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.control.events import ModelEvent
from service.routing.route_spec import route_schema as route_message_schema

EVENT_SCHEMA_PATH = Path("schemas/model_event.schema.json")
ROUTE_SCHEMA_PATH = Path("schemas/route.schema.json")
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


if __name__ == "__main__":
    for path, schema in ((EVENT_SCHEMA_PATH, event_schema()), (ROUTE_SCHEMA_PATH, route_schema())):
        path.write_text(json.dumps(schema, indent=2) + "\n")
