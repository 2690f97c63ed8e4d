"""Where a learner starts: the latest descriptor of its own name on the control topic. The
model and its training state are both data there — the learner's state and the feedback
offsets it covered are in the descriptor's metadata — so a restarted learner resumes exactly
where its last published version stopped, and nothing after it counts as learned."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.kafka.clients import open_topic_reader
from service.settings import Settings

log = logging.getLogger(__name__)

METADATA_KEY = "learner"


@dataclass(frozen=True)
class Restored:
    """The latest version of the name (0: none yet), and, when a learner published it, its
    state and the next feedback offset per partition."""

    version: int = 0
    state: dict[str, Any] | None = None
    offsets: dict[int, int] = field(default_factory=dict)


async def latest_of(settings: Settings, name: str, idle_ms: int = 1000) -> Restored:
    """Reads the whole control topic (it is compacted: one record per name, soon)."""
    consumer = await open_topic_reader(settings.bootstrap_servers, settings.control_topic)
    found: bytes | None = None
    seen = False
    try:
        ends = await _end_offsets(consumer)
        while True:
            batches = await consumer.getmany(timeout_ms=idle_ms)
            for records in batches.values():
                for record in records:
                    if record.key == name.encode():
                        found, seen = record.value, True
            if not batches or (ends and all(await _position(consumer, ends))):
                break
    finally:
        await consumer.stop()
    if not seen or found is None:  # never published, or retired: start afresh
        return Restored()
    return restored_from(orjson.loads(found))


def restored_from(descriptor: dict[str, Any]) -> Restored:
    version = int(descriptor.get("version") or 0)
    metadata = descriptor.get("metadata") or {}
    learner = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(learner, dict) or "state" not in learner:
        log.info("version %s was not published by a learner: learning from scratch", version)
        return Restored(version)
    offsets = {int(p): int(o) for p, o in (learner.get("feedbackOffsets") or {}).items()}
    return Restored(version, learner["state"], offsets)


async def _end_offsets(consumer: Any) -> dict[Any, int]:
    try:
        return dict(await consumer.end_offsets(list(consumer.assignment())))
    except Exception:  # some Kafka-compatible brokers answer this badly: read till idle
        return {}


async def _position(consumer: Any, ends: dict[Any, int]) -> list[bool]:
    return [await consumer.position(tp) >= end for tp, end in ends.items()]
