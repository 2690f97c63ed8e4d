"""schemas/route.schema.json is what `make schemas` writes, and it accepts what the service
accepts (the checks that need the members loaded aside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from service.routing.route_spec import RouteRejectedError, parse_route
from service.tools.json_schemas import route_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas/route.schema.json"
BASE = {"kind": "route", "dataType": "wine"}

CASES: list[tuple[dict[str, Any], bool]] = [
    ({**BASE, "mode": "shadow", "primary": "a", "shadows": ["b"]}, True),
    ({**BASE, "mode": "shadow", "primary": "a", "shadows": ["b"], "sample": 0.25}, True),
    ({**BASE, "mode": "canary", "weights": {"a": 90, "b": 10}}, True),
    ({**BASE, "mode": "ensemble", "members": ["a", "b", "c"], "combine": "mean"}, True),
    ({**BASE, "mode": "speculative", "candidates": ["s", "f"], "deadlineMs": 20}, True),
    (
        {
            **BASE,
            "mode": "speculative",
            "candidates": ["s", "f"],
            "deadlineMs": 20,
            "decider": "most-confident",
        },
        True,
    ),
    ({**BASE, "mode": "mirror", "primary": "a"}, False),
    ({**BASE, "mode": "canary", "weights": {"a": 0}}, False),
    ({**BASE, "mode": "canary", "weights": {"bad\nname": 1}}, False),
    ({**BASE, "mode": "canary", "weights": {"tensorflow saved model": 1}}, True),
    ({**BASE, "mode": "shadow", "primary": "a", "shadows": []}, False),
    ({**BASE, "mode": "shadow", "primary": "a", "shadows": ["b"], "sample": 1.5}, False),
    ({**BASE, "mode": "ensemble", "members": ["a"]}, False),
    ({**BASE, "mode": "ensemble", "members": ["a", "b"], "combine": "max"}, False),
    ({**BASE, "mode": "speculative", "candidates": ["s", "f"]}, False),
    ({**BASE, "mode": "canary", "weights": {"a": 1}, "unknown": 1}, False),
    ({"dataType": "wine", "mode": "canary", "weights": {"a": 1}}, False),
]


def test_the_route_schema_file_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == route_schema()


@pytest.mark.parametrize(("doc", "valid"), CASES)
def test_schema_and_parser_agree(doc: dict[str, Any], valid: bool) -> None:
    schema_ok = jsonschema.Draft202012Validator(route_schema()).is_valid(doc)
    try:
        parse_route(b"route:wine", orjson.dumps(doc))
        parsed = True
    except RouteRejectedError:
        parsed = False
    assert (schema_ok, parsed) == (valid, valid)
