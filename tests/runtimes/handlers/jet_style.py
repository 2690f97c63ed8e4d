"""Form 2, Hazelcast Jet's: a module exposing ``transform_list``, which takes each record as
JSON text and answers each result as JSON text. It says its own inputs (``input_schema``)."""

from __future__ import annotations

import json

input_schema = ["alcohol", "pH", {"name": "colour", "type": "string"}]


def transform_list(items: list[str]) -> list[str]:
    answers = []
    for item in items:
        record = json.loads(item)
        value = 0.5 * record["alcohol"] + record["pH"]
        if record["colour"] == "red":
            answers.append(json.dumps({"value": value}))
        else:
            answers.append(json.dumps({"label": record["colour"] or "none"}))
    return answers
