"""``python -m service.control.event_schema`` writes schemas/model_event.schema.json from the
ModelEvent type (``make schemas``); a test checks the file is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.control.events import ModelEvent

SCHEMA_PATH = Path("schemas/model_event.schema.json")


def event_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://modelserve.dev/schemas/model_event.schema.json",
        **ModelEvent.model_json_schema(by_alias=True),
    }


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(event_schema(), indent=2) + "\n")
