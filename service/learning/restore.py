"""Where a learner starts: the latest descriptor of its own name on the control topic. The
model and its training state are both data there — the learner's state and the feedback
offsets it covered are in the descriptor's metadata — so a restarted learner resumes exactly
where its last published version stopped, and nothing after it counts as learned.

Metadata that claims to be a learner's but cannot be resumed from stops the start with one
line: going on from an older version, or from scratch, would learn feedback twice or lose
what was learned, which is an operator's call (retire the name, or publish a version to
resume from), not the learner's."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from service.errors import ModelServeError
from service.kafka.clients import open_topic_reader
from service.learning.catchup import read_to_end
from service.learning.state import InvalidStateError, LearnerMetadata, check_state, checked
from service.settings import Settings
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads

log = logging.getLogger(__name__)

METADATA_KEY = "learner"
READ_DEADLINE_S = 120.0  # to read the whole (compacted) control topic


class CannotResumeError(ModelServeError, ValueError):
    """The learner will not start: what it would resume from is unreadable or does not
    match its flags. One line; `modelserve learn` exits 2 with it (a ValueError, as the CLI's
    other refusals). Not retriable: the control topic will say the same next time."""


@dataclass(frozen=True)
class Restored:
    """The latest version of the name (0: none yet), and, when a learner published it, its
    state (checked: see learning/state.py), the next feedback offset per partition and the
    dataType it was published for."""

    version: int = 0
    state: dict[str, Any] | None = None
    offsets: dict[int, int] = field(default_factory=dict)
    data_type: str | None = None


async def latest_of(settings: Settings, name: str) -> Restored:
    """Reads the whole control topic (it is compacted: one record per name, soon)."""
    consumer = await open_topic_reader(settings, settings.control_topic)
    try:
        found = await latest_value(consumer, name.encode())
    finally:
        await consumer.stop()
    if found is None:  # never published, or retired: start afresh
        return Restored()
    try:
        descriptor = loads(found, DEFAULT_MAX_JSON_DEPTH)
    except UnreadableJson as exc:
        raise CannotResumeError(f"the latest record of {name} is {exc}") from None
    return restored_from(descriptor)


async def latest_value(
    consumer: Any, key: bytes, deadline_s: float = READ_DEADLINE_S
) -> bytes | None:
    """The value of the last record with ``key`` up to the end of the topic as it is now
    (None: no such record, or a tombstone). All of it: the last record read before the end
    may be an older version of the name."""
    found: list[bytes | None] = [None]

    def see(records: list[Any]) -> None:
        for record in records:
            if record.key == key:
                found[0] = record.value

    if not await read_to_end(consumer, see, idle_ms=1000, deadline_s=deadline_s):
        raise CannotResumeError(
            f"the control topic was not read to its end in {deadline_s:.0f} s: "
            "its latest version is unknown"
        )
    return found[0]


def restored_from(descriptor: Any) -> Restored:
    """What a descriptor (as JSON) says a learner resumes from. CannotResumeError when it
    carries learner metadata that is not valid."""
    if not isinstance(descriptor, dict):
        raise CannotResumeError("the latest record of the name is not a JSON object")
    name, version = descriptor.get("name"), descriptor.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CannotResumeError(f"the latest record of {name} has no valid version: {version!r}")
    metadata = descriptor.get("metadata")
    learner = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(learner, dict) or "state" not in learner:
        log.info("version %s was not published by a learner: learning from scratch", version)
        return Restored(version)
    try:
        checked_metadata = checked(LearnerMetadata, learner)
        state = check_state(checked_metadata.state)
    except InvalidStateError as exc:
        raise CannotResumeError(
            f"version {version} of {name} has learner metadata that cannot be resumed from "
            f"({exc}): retire {name} or publish a version to resume from"
        ) from exc
    data_type = descriptor.get("dataType")
    return Restored(
        version,
        state,
        dict(checked_metadata.feedback_offsets),
        data_type if isinstance(data_type, str) else None,
    )
