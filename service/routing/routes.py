"""A route per dataType: which models score its records and how their answers make each
record's outcome. The engine hands a route the rows of a batch and a runner (which scores rows
with one model); the route decides who runs on which rows and what answers. The engine knows
no mode; each mode is a Route of its own module (shadow, canary, ensemble, speculative).

The single-model route, the common case, costs what scoring without routes did: one model
call for the batch, its answers as they are."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.errors import RecordError
from service.routing.serving import ServingModel
from service.runtimes.base import BatchResult


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


class SingleRoute:
    """The dataType's latest model answers alone: today's behaviour, and the default."""

    mode = "single"

    def __init__(self, serving: ServingModel) -> None:
        self.data_type = serving.descriptor.data_type
        self._serving = self.primary = serving
        self.members: tuple[ServingModel, ...] = (serving,)

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        scores = await run(self._serving, batch.rows)
        return Answers([self._serving] * len(scores.rows), scores.rows)


def stable_fraction(key: bytes) -> float:
    """A number in [0, 1) that a key always maps to, in every process and every release (a
    fixed hash, not Python's salted one): the same key goes the same way on every replica and
    after every restart."""
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
