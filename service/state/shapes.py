"""What every state document shares: how it reads (frozen; by field name or by its JSON name),
how it is written (``encode``: JSON types, JSON names, fields in declaration order, which is
the order clients and the dashboard see), and the bounds of what it counts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Counts read from other processes' snapshots are summed across the deployment: bounded so
# that no sum leaves what JSON encoders (and a double) hold exactly, whoever wrote them.
Count = Annotated[int, Field(ge=0, le=2**53)]
# Times as the documents have always written them (``routing.serving.iso``) and read them
# back: text, so that a foreign writer's unreadable time orders first rather than refusing
# its whole snapshot (``merge.instant``).
IsoTime = str


def absent(value: object) -> bool:
    """``exclude_if`` of a field the document leaves out, rather than writing null, when it
    has nothing to say (a merge's ``otherVersions``, a merged route's ``since``)."""
    return value is None


class Shape(BaseModel):
    """A document this process writes, or reads from another one; keys it does not know (a
    newer writer's) are passed over."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class OpenShape(BaseModel):
    """A document read from other processes whose unknown keys (a newer writer's) are kept as
    they came, as the untyped documents kept them."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")


class WorkerIndex(Shape):
    """A base that puts a worker's index first in a document of its own figures: pydantic
    orders the fields base by base from the last base listed, so ``class X(Figures,
    WorkerIndex)`` writes ``worker`` and then the figures."""

    worker: int | None


def encode(document: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    """The JSON object a client reads: JSON names, JSON types, declaration order."""
    return document.model_dump(mode="json", by_alias=True, exclude=exclude)
