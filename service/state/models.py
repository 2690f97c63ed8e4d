"""The models a process knows: ``GET /models`` (ModelInfo: the version in service, else the
one whose state changed last), ``GET /models/{name}`` (ModelDetail: plus every version seen)
and the snapshot's short form of each (ModelStatus), read from the registry."""

from __future__ import annotations

import logging
from typing import Any, Self

import orjson
from pydantic import Field

from service.clock import iso
from service.routing.history import IN_SERVICE, ModelEntry, Status, VersionRecord
from service.routing.registry import Registry
from service.runtimes.base import CallsAnEndpoint
from service.state.shapes import IsoTime, Shape, encode

log = logging.getLogger(__name__)


class HistoryEntry(Shape):
    """One attempt at a version: its status from ``since`` until ``until`` (null while it
    lasts), and why it failed or was refused."""

    version: int | None
    status: Status
    since: IsoTime
    until: IsoTime | None
    error: str | None

    @classmethod
    def of(cls, record: VersionRecord) -> HistoryEntry:
        return cls(
            version=record.version,
            status=record.status,
            since=iso(record.since),
            until=iso(record.until),
            error=record.error,
        )


class EndpointState(Shape):
    """The server a REMOTE model's calls go to, as this process sees it."""

    url: str
    state: str  # "up" | "down"
    since: IsoTime
    last_error: str | None = Field(alias="lastError")


class ModelInfo(Shape):
    """A name's shown version; a descriptor refused before it had a version or a dataType
    shows neither. ``runtime`` and ``schema`` are null until the version loaded; ``endpoint``
    is a REMOTE model's server while it is loaded, else null."""

    name: str
    version: int | None
    data_type: str | None = Field(alias="dataType")
    model_type: str | None = Field(alias="modelType")
    description: str
    status: Status
    since: IsoTime
    expires_at: IsoTime | None = Field(alias="expiresAt")
    sha256: str | None
    runtime: str | None
    input_schema: list[dict[str, Any]] | None = Field(alias="schema")
    metadata: dict[str, Any]
    error: str | None
    # Only a REMOTE model has one: left out of every other model's document.
    endpoint: EndpointState | None = Field(None, exclude_if=lambda value: value is None)

    @classmethod
    def of(cls, name: str, shown: VersionRecord, **more: Any) -> Self:
        return cls(
            name=name,
            version=shown.version,
            data_type=shown.data_type,
            model_type=shown.model_type,
            description=shown.description,
            status=shown.status,
            since=iso(shown.since),
            expires_at=iso(shown.expires_at),
            sha256=shown.sha256,
            runtime=shown.runtime,
            input_schema=shown.schema,
            metadata=shown.metadata,
            error=shown.error,
            **more,
        )


class ModelDetail(ModelInfo):
    """``GET /models/{name}``: the ModelInfo, then every version attempt kept, oldest first."""

    history: list[HistoryEntry]


class ModelVersion(Shape):
    """A model by its name and version: a merge's part on another version, a route member."""

    name: str
    version: int


class ModelStatus(Shape):
    """A name's version as ``/models`` shows it, in short: what a snapshot carries."""

    name: str
    version: int | None
    data_type: str | None = Field(alias="dataType")
    status: str

    @classmethod
    def of(cls, info: ModelInfo) -> ModelStatus:
        return cls(
            name=info.name, version=info.version, data_type=info.data_type, status=info.status
        )


def model_infos(registry: Registry) -> list[ModelInfo]:
    """``model_info`` of every name, each checked to encode on its own: an entry that cannot
    (a bug the descriptor check let through) is left out and logged, so one bad entry cannot
    take ``/models`` or the snapshots down for every other model."""
    infos = []
    for name in registry.names():
        try:
            info = model_info(registry, name)
            if info is not None:
                orjson.dumps(encode(info))
        except Exception:
            log.exception("model %r left out of the state: it cannot be shown", name)
            continue
        if info is not None:
            infos.append(info)
    return infos


def model_info(registry: Registry, name: str) -> ModelInfo | None:
    entry = registry.entry(name)
    shown = _shown(entry)
    if entry is None or shown is None:
        return None
    return ModelInfo.of(name, shown, endpoint=_endpoint(entry))


def model_detail(registry: Registry, name: str) -> ModelDetail | None:
    entry = registry.entry(name)
    shown = _shown(entry)
    if entry is None or shown is None:
        return None
    history = [HistoryEntry.of(v) for v in entry.versions]
    return ModelDetail.of(name, shown, history=history, endpoint=_endpoint(entry))


def _endpoint(entry: ModelEntry) -> EndpointState | None:
    model = entry.serving.model if entry.serving is not None else None
    if not isinstance(model, CallsAnEndpoint):
        return None
    return EndpointState.model_validate(dict(model.endpoint_state()))


def _shown(entry: ModelEntry | None) -> VersionRecord | None:
    """The version in service, else the one whose state changed last (a retired version shows
    as retired even if a failed attempt came after it)."""
    if entry is None or not entry.versions:
        return None
    shown = entry.find(entry.serving.version, *IN_SERVICE) if entry.serving else None
    return shown or max(reversed(entry.versions), key=lambda v: v.until or v.since)
