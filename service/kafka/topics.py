"""Create the topics the service uses when the broker does not have them yet (brokers may not
auto-create)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service.kafka.clients import connection_options
from service.settings import Settings

log = logging.getLogger(__name__)

# The largest record batch the service's output topics take. A data record may be as large
# as its topic allows (the broker's default is 1 MiB), and its dead letter carries it whole
# plus headers, its prediction its id plus the answer: at the same limit, one record near it
# would be refused on the way out for ever, and stop its partition. Twice the default, with
# room for what the service adds.
OUTPUT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024 + 64 * 1024


def wanted_topics(settings: Settings) -> dict[str, int]:
    """Topic → partitions. The control log has one partition so that descriptors keep their
    order; the data and output topics are spread for the consumer group."""
    spread = settings.topic_partitions
    topics = {
        settings.control_topic: 1,
        settings.output_topic: spread,
        settings.shadow_topic: spread,
        settings.dlq_topic: spread,
        settings.events_topic: 1,
        settings.feedback_topic: spread,
        settings.stats_topic: 1,
    }
    for topic in settings.data_topics:
        topics[topic] = spread
    if settings.oip_input_topic:
        topics[settings.oip_input_topic] = spread
        topics[settings.oip_output_topic] = spread
    return topics


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """The control log is the source of truth for models and is replayed from offset 0 at
    every start: it must never lose descriptors to time-based retention, holds models inline,
    and is compacted, so that a learner publishing a version every few seconds does not grow
    the replay without end."""
    return {
        settings.control_topic: {
            # Compaction keeps the latest record per key (a model's name, ``route:<dataType>``):
            # what a replay needs to rebuild what serves, when that record is the one serving.
            # Older versions drop out of a replayed replica's /models history, which is fine. A
            # tombstone itself goes delete.retention.ms after compaction reaches it, which is
            # fine too: a retired model or removed route needs no record. Caveats: where a
            # key's latest record was refused (stale version, failed load, past expiry, invalid
            # route), a replica replaying after compaction loses what the others still serve;
            # and a version left to default (highest seen + 1) restarts from what is left. A
            # publisher that names its versions and publishes only loadable models (a learner)
            # is safe. Brokers refuse keyless records on a compacted topic, which is what
            # Lightbend's client sends: MODELSERVE_CONTROL_COMPACTION=false keeps every record.
            "cleanup.policy": "compact" if settings.control_compaction else "delete",
            "retention.ms": "-1",
            "retention.bytes": "-1",
            # Descriptors carry models inline; the broker default (1 MB) is too small.
            "max.message.bytes": str(settings.max_descriptor_bytes + 1024),
        },
        **{
            topic: {"max.message.bytes": str(OUTPUT_MAX_MESSAGE_BYTES)}
            for topic in (
                settings.output_topic,
                settings.shadow_topic,
                settings.dlq_topic,
                settings.oip_output_topic,
            )
        },
        # The latest snapshot per process is all the cluster view reads; a process gone for a
        # day (its last snapshot older than the retention) drops out of it. Segments roll
        # hourly so that compaction can reach them.
        settings.stats_topic: {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(24 * 3600 * 1000),
            "segment.ms": str(3600 * 1000),
        },
    }


def make_admin(settings: Settings, **overrides: Any) -> AIOKafkaAdminClient:
    """An admin client (not started), for creating topics or asking whether the broker
    answers (tools/devbroker.py)."""
    options: dict[str, Any] = {**connection_options(settings), "client_id": "modelserve-admin"}
    options.update(overrides)
    return AIOKafkaAdminClient(**options)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing topics; returns the names created."""
    admin = make_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = topic_configs(settings)
        missing = [
            NewTopic(name, partitions, settings.replication_factor, topic_configs=configs.get(name))
            for name, partitions in wanted_topics(settings).items()
            if name not in existing
        ]
        if not missing:
            return []
        with contextlib.suppress(TopicAlreadyExistsError):  # another replica was quicker
            await admin.create_topics(missing)
        names = [t.name for t in missing]
        log.info("created topics %s", ", ".join(names))
        return names
    finally:
        await admin.close()
