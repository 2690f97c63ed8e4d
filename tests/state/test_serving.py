"""``/state/{dataType}`` typed: for every dataType of a busy registry (each route mode, a model
alone, none) the document encodes to exactly what the untyped view wrote."""

from __future__ import annotations

import orjson

from service.http import views
from service.state.serving import ServingState, serving_state
from service.state.shapes import encode
from tests.state import legacy_views
from tests.state.scenario import DATA_TYPES, busy_registry


async def test_every_data_type_shows_as_the_untyped_view_showed_it() -> None:
    registry, _ = await busy_registry()
    for data_type in (*DATA_TYPES, "described", "gone", "unknown"):
        state = serving_state(registry, data_type)
        expected = legacy_views.serving_state(registry, data_type)
        assert orjson.dumps(state and encode(state)) == orjson.dumps(expected), data_type
        assert views.serving_state(registry, data_type) == expected
    shown = serving_state(registry, "shadow")
    assert shown is not None and shown.usage == 16 and shown.route is not None


async def test_a_state_reads_back_as_it_was_written() -> None:
    registry, _ = await busy_registry()
    for data_type in DATA_TYPES:
        state = serving_state(registry, data_type)
        assert state is not None
        again = ServingState.model_validate_json(orjson.dumps(encode(state)))
        assert again == state and type(again.route) is type(state.route)


def test_what_a_newer_writer_adds_is_kept() -> None:
    doc = {"name": "rf", "version": 2, "usage": 3, "route": None, "warmth": "high"}
    state = ServingState.model_validate(doc)
    assert encode(state)["warmth"] == "high" and state.description == ""
