"""A route as both planes see it. The engine (scoring/) hands a route the rows of one dataType
in a batch and a runner that scores rows with one model; the route (routing/: single, shadow,
canary, ensemble, speculative) decides who runs on which rows and what answers each. These
types are the whole of what passes between the two, so neither plane imports the other: the
engine finds a dataType's route through a RouteTable (the registry, given by the composition
root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.errors import RecordError
from service.runtimes.base import BatchResult
from service.serving.model import ServingModel


class Answerer(Protocol):
    """What answered a record, as its prediction names it: a model, or an ensemble of them."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str:
        """``name:version`` for logs and the dead letter's ``dlq.model``."""
        ...

    @property
    def model_json(self) -> bytes:
        """The prediction's ``model`` object, as JSON."""
        ...

    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        """The headers every prediction it answers carries."""
        ...


@dataclass(frozen=True, slots=True)
class MemberScores:
    """One model's answer for each row it was given: the ``result`` JSON, or why not.
    ``result`` is the engine's batch answer for the rows in ``scored`` (row indices; None:
    all of them); None when the batch had to be scored row by row."""

    serving: ServingModel
    rows: Sequence[bytes | RecordError]
    result: BatchResult | None = None
    scored: Sequence[int] | None = None
    elapsed_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class SideAnswer:
    """A shadow's answer for row ``row`` of the batch, with the primary's in brief (the JSON
    object ``{"name","version","label"|"value"}``, or ``"error"`` where it gave none)."""

    row: int
    serving: ServingModel
    result_json: bytes
    primary_json: bytes


Runner = Callable[[ServingModel, Sequence[dict[str, Any]]], Awaitable[MemberScores]]
"""Scores rows (a record's fields each) with one model, bound to that model's inputs: a row it
cannot read is that row's error. Never raises for what the rows or the model do."""


@dataclass(slots=True)
class RouteBatch:
    """The rows of one dataType in a batch, and each row's routing key: the record's key, or
    its id when it has none (what a canary split and a shadow sample hash)."""

    data_type: str
    rows: Sequence[dict[str, Any]]
    keys: Callable[[], Sequence[bytes]]
    shadows: bool = True  # False for request-reply: shadows watch the stream only


@dataclass(slots=True)
class Answers:
    """Per row: what answered it and the answer (or why not); plus work that goes on after
    the answers are out (a shadow's), which the output stage waits for before committing."""

    answerers: Sequence[Answerer]
    results: Sequence[bytes | RecordError]
    after: list[Awaitable[list[SideAnswer]]] = field(default_factory=list)


class Route(Protocol):
    data_type: str
    mode: str
    primary: ServingModel  # the member listed first: what /state shows at its top level
    members: tuple[ServingModel, ...]  # every model the route runs

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers: ...


class RouteTable(Protocol):
    """Where the engine finds the route that answers for a dataType (routing/registry.py)."""

    def route_for(self, data_type: str) -> Route | None: ...
