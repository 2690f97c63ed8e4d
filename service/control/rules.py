"""The control log's rules, in one place: what a record does to a name's versions. A route
record goes to the route book and a tombstone retires its name; a descriptor is read, given
its version (highest seen + 1 when left to default), held to the version rule, then to its
``expiresAt``, and only then loaded.

A pure function of the record and of what its name holds at that point (Versions), in two
steps: ``read`` (what the record is, whatever the state: the costly part, once per record) and
``admit`` (a descriptor held to its name's state). One set of rules, so that the two ways of
applying the log cannot drift apart: ModelLifecycle.apply asks them about each record as it
arrives, with the registry's state (Versions.of); the lean replay at start (control/replay.py)
folds them over the whole log with a state of its own (Versions.after), to find what ends up
serving before it loads anything. Whether a version loads is the one thing
the rules cannot say: a Load is the caller's to try, and what came of it is the caller's to
tell (``Versions.after(verdict, loaded)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.control.descriptor import ControlLimits, parse_descriptor
from service.control.replay_actions import (
    EXPIRED,
    ControlRecord,
    Ignore,
    Load,
    Refuse,
    Retire,
    RouteRecord,
    Verdict,
)
from service.errors import DescriptorRejectedError
from service.routing.history import ModelEntry
from service.routing.route_spec import is_route_key
from service.serving.descriptor import MAX_VERSION, ModelDescriptor, no_version_left

# A record before the name's state is known: a verdict already, or a descriptor to admit.
Reading = RouteRecord | Retire | Ignore | Refuse | ModelDescriptor


@dataclass(frozen=True)
class Versions:
    """What the rules read of a name: the highest version it was given (every version tried
    counts, whatever became of it, so the numbers never depend on a load) and the one serving
    (None: none)."""

    highest: int = 0
    serving: int | None = None

    @staticmethod
    def of(entry: ModelEntry | None) -> Versions:
        """A name's versions as the registry keeps them: its history, and what serves."""
        if entry is None:
            return Versions()
        serving = entry.serving.version if entry.serving is not None else None
        return Versions(entry.highest_version(), serving)

    def after(self, verdict: Verdict, loaded: bool = False) -> Versions:
        """The name's versions once ``verdict`` is carried out (a Load: once it ``loaded``, or
        failed to), as the registry's history and serving model would have them."""
        if isinstance(verdict, Retire):
            return Versions(self.highest, None)
        if not isinstance(verdict, Load | Refuse) or verdict.descriptor is None:
            return self
        version = verdict.descriptor.version
        if version is None:  # refused before it was given one
            return self
        serving = version if isinstance(verdict, Load) and loaded else self.serving
        return Versions(max(self.highest, version), serving)


def stale_version(version: int, serving: int | None, rollback: bool) -> str | None:
    """Why the version rule refuses ``version`` while ``serving`` serves (None: it does not):
    not older than, nor equal to, the serving version unless ``rollback``."""
    if serving is None or version > serving or rollback:
        return None
    return (
        f"version {version} is not newer than serving version {serving} "
        '(set "rollback": true to go back)'
    )


def read(record: ControlRecord, limits: ControlLimits) -> Reading:
    """What the record is, whatever its name holds: the costly part (a descriptor parsed,
    its artifact decoded), done once per record even when a replay folds a name again."""
    key, value, headers, _ = record
    if key is not None and is_route_key(key):
        return RouteRecord(key, value)
    name = key.decode("utf-8", errors="replace") if key is not None else None
    if value is None:
        return Retire(name) if name is not None else Ignore()
    try:
        return parse_descriptor(key, value, headers, limits)
    except DescriptorRejectedError as exc:
        return Refuse(name, "rejected", str(exc))


def admit(descriptor: ModelDescriptor, versions: Versions, now: datetime) -> Load | Refuse:
    """A readable descriptor given its version and held to the rules, in this order: a
    version left to default is highest + 1; the version rule; then ``expiresAt`` (expired, not
    rejected: a replica replaying the log after the instant shows what the replicas that
    served it show)."""
    version = descriptor.version
    if version is None:
        if versions.highest >= MAX_VERSION:
            return Refuse(
                descriptor.name, "rejected", no_version_left(versions.highest), descriptor
            )
        version = versions.highest + 1
        descriptor = descriptor.with_version(version)
    why = stale_version(version, versions.serving, descriptor.rollback)
    if why is not None:
        return Refuse(descriptor.name, "rejected", why, descriptor)
    if descriptor.expires_at is not None and descriptor.expires_at <= now:
        return Refuse(descriptor.name, "expired", EXPIRED, descriptor)
    return Load(descriptor)
