"""Serving state: per dataType the model in service, per name every version seen, and the
serving statistics of each model. Owned by the event loop; every change is one synchronous
method call, so a swap is atomic with respect to the scoring loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .descriptor import ModelDescriptor
from .errors import DescriptorRejectedError
from .records import FieldBinder
from .runtimes.base import Model

log = logging.getLogger(__name__)

Status = Literal["loading", "serving", "superseded", "failed", "rejected", "retired", "expired"]


_NEVER_SERVED = frozenset({"loading", "failed", "rejected"})


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


@dataclass
class ServingStats:
    """Lightbend's ModelToServeStats, per batch: ``usage`` counts records, ``duration`` is
    the cumulative scoring time; min/max/avg are per record (a batch's time over its size)."""

    since: datetime
    usage: int = 0
    duration_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None

    def record_batch(self, size: int, elapsed_ms: float) -> None:
        if size <= 0:
            return
        per_record = elapsed_ms / size
        self.usage += size
        self.duration_ms += elapsed_ms
        self.min_ms = per_record if self.min_ms is None else min(self.min_ms, per_record)
        self.max_ms = per_record if self.max_ms is None else max(self.max_ms, per_record)

    @property
    def avg_ms(self) -> float:
        return self.duration_ms / self.usage if self.usage else 0.0


class ServingModel:
    """A loaded model in (or leaving) service. Batches hold it while they score; a displaced
    model is closed when its last in-flight batch lets go."""

    def __init__(self, descriptor: ModelDescriptor, model: Model, sha256: str) -> None:
        assert descriptor.version is not None
        self.descriptor = descriptor
        self.name = descriptor.name
        self.version: int = descriptor.version
        self.model = model
        self.sha256 = sha256
        self.binder = FieldBinder(model.input_names, descriptor.field_map)
        self.stats = ServingStats(since=utcnow())
        self.label = f"{self.name}:{self.version}"
        self.runtime = str(model.runtime)
        self._in_flight = 0
        self._displaced = False

    def acquire(self) -> None:
        self._in_flight += 1

    def release(self) -> None:
        self._in_flight -= 1
        if self._displaced and self._in_flight == 0:
            self._close()

    def displace(self) -> None:
        self._displaced = True
        if self._in_flight == 0:
            self._close()

    def _close(self) -> None:
        try:
            self.model.close()
        except Exception:  # closing must never take the service down
            log.exception("closing model %s failed", self.label)


@dataclass
class VersionRecord:
    version: int | None
    status: Status
    since: datetime
    data_type: str | None = None
    model_type: str | None = None
    description: str = ""
    expires_at: datetime | None = None
    sha256: str | None = None
    runtime: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    until: datetime | None = None
    error: str | None = None

    def history_entry(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "since": iso(self.since),
            "until": iso(self.until),
            "error": self.error,
        }


@dataclass
class ModelEntry:
    name: str
    versions: list[VersionRecord] = field(default_factory=list)
    serving: ServingModel | None = None

    def highest_version(self) -> int:
        return max((v.version for v in self.versions if v.version is not None), default=0)

    def record(self, entry: VersionRecord) -> None:
        """One history entry per version attempt: a version seen again replaces its entry
        while that one never served (loading, failed, rejected); a version that served keeps
        its entry, and a later attempt at it (a rollback, a stale re-publish) is added."""
        if entry.version is not None:
            self.versions = [
                v
                for v in self.versions
                if v.version != entry.version or v.status not in _NEVER_SERVED
            ]
        self.versions.append(entry)

    def find(self, version: int | None, status: Status | None = None) -> VersionRecord | None:
        return next(
            (
                v
                for v in reversed(self.versions)
                if v.version == version and (status is None or v.status == status)
            ),
            None,
        )


class Registry:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._models: dict[str, ModelEntry] = {}
        self._serving: dict[str, ServingModel] = {}

    # -- the hot path -----------------------------------------------------------------------

    def serving_for(self, data_type: str) -> ServingModel | None:
        return self._serving.get(data_type)

    # -- control-plane transitions ----------------------------------------------------------

    def admit(self, descriptor: ModelDescriptor) -> ModelDescriptor:
        """Give the descriptor its version (highest seen + 1 by default) and apply the version
        rule: not older than, nor equal to, the serving version unless ``rollback``."""
        entry = self._models.get(descriptor.name)
        if descriptor.version is None:
            highest = entry.highest_version() if entry else 0
            descriptor = descriptor.with_version(highest + 1)
        assert descriptor.version is not None
        serving = entry.serving if entry else None
        if (
            serving is not None
            and descriptor.version <= serving.version
            and not descriptor.rollback
        ):
            raise DescriptorRejectedError(
                f"version {descriptor.version} is not newer than serving version "
                f'{serving.version} (set "rollback": true to go back)'
            )
        return descriptor

    def begin_load(self, descriptor: ModelDescriptor) -> None:
        self._entry(descriptor.name).record(self._version_record(descriptor, "loading"))

    def install(self, descriptor: ModelDescriptor, model: Model, sha256: str) -> ServingModel:
        """The atomic swap: from now on the dataType's records go to the new model. The model
        it displaces (this name's previous version, or another name serving the dataType) is
        marked superseded and closed after its in-flight batches."""
        now = self._clock()
        new = ServingModel(descriptor, model, sha256)
        entry = self._entry(descriptor.name)
        displaced = [m for m in (entry.serving, self._serving.get(descriptor.data_type)) if m]
        for old in dict.fromkeys(displaced):
            self._end(old, "superseded", now)
        entry.serving = new
        self._serving[descriptor.data_type] = new
        record = self._version_record(descriptor, "serving")
        record.sha256 = sha256
        record.runtime = new.runtime
        entry.record(record)
        return new

    def fail(
        self,
        name: str,
        status: Literal["failed", "rejected", "expired"],
        error: str,
        descriptor: ModelDescriptor | None = None,
        version: int | None = None,
    ) -> None:
        """A descriptor that will not serve (or arrived after its expiry). The serving model,
        if any, is untouched."""
        if descriptor is not None:
            record = self._version_record(descriptor, status)
        else:
            record = VersionRecord(version=version, status=status, since=self._clock())
        record.error = error
        record.until = record.since
        self._entry(name).record(record)

    def retire(self, name: str) -> ServingModel | None:
        """Tombstone: the name stops serving; its dataType has no model until another comes."""
        entry = self._models.get(name)
        if entry is None or entry.serving is None:
            return None
        old = entry.serving
        self._end(old, "retired", self._clock())
        return old

    def expire(self, name: str, version: int) -> ServingModel | None:
        entry = self._models.get(name)
        if entry is None or entry.serving is None or entry.serving.version != version:
            return None
        old = entry.serving
        self._end(old, "expired", self._clock())
        return old

    def _end(self, old: ServingModel, status: Status, now: datetime) -> None:
        entry = self._models[old.name]
        if entry.serving is old:
            entry.serving = None
        if self._serving.get(old.descriptor.data_type) is old:
            del self._serving[old.descriptor.data_type]
        record = entry.find(old.version, "serving")
        if record is not None:
            record.status = status
            record.until = now
        old.displace()

    def _entry(self, name: str) -> ModelEntry:
        entry = self._models.get(name)
        if entry is None:
            entry = self._models[name] = ModelEntry(name)
        return entry

    def _version_record(self, descriptor: ModelDescriptor, status: Status) -> VersionRecord:
        return VersionRecord(
            version=descriptor.version,
            status=status,
            since=self._clock(),
            data_type=descriptor.data_type,
            model_type=descriptor.model_type,
            description=descriptor.description,
            expires_at=descriptor.expires_at,
            sha256=descriptor.sha256,
            metadata=descriptor.metadata,
        )

    # -- queryable state --------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._models)

    def serving_count(self) -> int:
        return len(self._serving)

    def all_serving(self) -> list[ServingModel]:
        return list(self._serving.values())

    def model_info(self, name: str, with_history: bool = False) -> dict[str, Any] | None:
        """The version in service, else the one whose state changed last (a retired version
        shows as retired even if a failed attempt came after it)."""
        entry = self._models.get(name)
        if entry is None or not entry.versions:
            return None
        shown = entry.find(entry.serving.version, "serving") if entry.serving else None
        shown = shown or max(reversed(entry.versions), key=lambda v: v.until or v.since)
        info: dict[str, Any] = {
            "name": name,
            "version": shown.version,
            "dataType": shown.data_type,
            "modelType": shown.model_type,
            "description": shown.description,
            "status": shown.status,
            "since": iso(shown.since),
            "expiresAt": iso(shown.expires_at),
            "sha256": shown.sha256,
            "runtime": shown.runtime,
            "metadata": shown.metadata,
            "error": shown.error,
        }
        if with_history:
            info["history"] = [v.history_entry() for v in entry.versions]
        return info

    def state(self, data_type: str) -> dict[str, Any] | None:
        serving = self._serving.get(data_type)
        if serving is None:
            return None
        stats = serving.stats
        return {
            "name": serving.name,
            "description": serving.descriptor.description,
            "modelType": serving.descriptor.model_type,
            "version": serving.version,
            "since": iso(stats.since),
            "usage": stats.usage,
            "duration": round(stats.duration_ms, 3),
            "min": round(stats.min_ms, 3) if stats.min_ms is not None else 0.0,
            "max": round(stats.max_ms, 3) if stats.max_ms is not None else 0.0,
            "avg": round(stats.avg_ms, 3),
        }
