"""Form 2 answering what is not a result object: a JSON number, a JSON list, plain text."""

from __future__ import annotations

import json


def transform_list(items: list[str]) -> list[str]:
    answers = []
    for item in items:
        record = json.loads(item)
        kind = int(record["kind"])
        if kind == 0:
            answers.append(str(len(item)))  # a JSON number
        elif kind == 1:
            answers.append(json.dumps(sorted(record)))  # a JSON list
        else:
            answers.append(f"kind {kind}!")  # not JSON at all
    return answers
