"""Model events: one per load attempt or state change, on the model-events topic (keyed by
model name). The contract's shape, typed; ``schemas/model_event.schema.json`` is its JSON
Schema (a test keeps the two equal)."""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from service.serving.descriptor import SchemaInput

EventStatus = Literal[
    "loaded", "failed", "rejected", "retired", "expired", "pending", "active", "removed"
]


class ModelEvent(BaseModel):
    """What became of a control record, or of a model or route in service. A route's events
    (``kind: route``) are named by the route's key, ``route:<dataType>``, and say its
    ``mode`` and ``members``; their status is pending, active, rejected or removed."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    kind: Literal["model", "route"] = Field("model", description="What the event is about.")
    name: str | None = Field(
        description="The model's name (a route's key); null for an unreadable record."
    )
    version: int | None = Field(description="The version concerned, when known.")
    data_type: str | None = Field(alias="dataType", description="The model's dataType.")
    status: EventStatus
    error: str | None = Field(None, description="Why it failed or was rejected (sanitised).")
    runtime: str | None = Field(
        None,
        description="Engine and version answering for the model (e.g. 'jpmml-evaluator 0.16.0'), "
        "on loaded, retired and expired.",
    )
    input_schema: list[SchemaInput] | None = Field(
        None,
        alias="schema",
        description="The model's inputs (name, type, per-row shape; [] for a scalar), on loaded.",
    )
    at: str = Field(description="When, RFC 3339 (UTC).")
    instance: str = Field(description="The replica that reports it.")
    offset: int | None = Field(
        None, description="The control record that caused it (null for an expiry)."
    )
    mode: str | None = Field(None, description="A route's mode (shadow, canary, ...).")
    members: list[str] | None = Field(None, description="The models a route names.")

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(by_alias=True))
