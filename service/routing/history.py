"""Every version of a model seen on the control topic, with its status over time: what
``/models/{name}`` shows, and what the version rule reads (control/rules.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from service.serving.model import ServingModel

Status = Literal[
    "loading", "serving", "standby", "superseded", "failed", "rejected", "retired", "expired"
]
IN_SERVICE: tuple[Status, ...] = ("serving", "standby")  # loaded: answering, or ready to

_NEVER_SERVED = frozenset({"loading", "failed", "rejected"})
# Versions kept per name: an online learner publishes one every few seconds, for ever; the
# newest are what /models shows and what the version rule reads (the highest is among them).
MAX_HISTORY = 500


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
    schema: list[dict[str, Any]] | None = None  # the loaded model's inputs
    metadata: dict[str, Any] = field(default_factory=dict)
    until: datetime | None = None
    error: str | None = None


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
        if entry.version is not None and any(v.version == entry.version for v in self.versions):
            self.versions = [
                v
                for v in self.versions
                if v.version != entry.version or v.status not in _NEVER_SERVED
            ]
        self.versions.append(entry)
        del self.versions[:-MAX_HISTORY]

    def find(self, version: int | None, *statuses: Status) -> VersionRecord | None:
        return next(
            (
                v
                for v in reversed(self.versions)
                if v.version == version and (not statuses or v.status in statuses)
            ),
            None,
        )
