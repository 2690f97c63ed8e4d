"""Reading the stats topic: a snapshot written after this reader started is stamped on
arrival (a writer's clock running ahead keeps nothing alive), one read while catching up
with its writer's time (capped at now); the latest record of a key wins, a tombstone forgets
it, and a record that is not a snapshot is passed over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import orjson
from aiokafka.errors import KafkaConnectionError

from service.clock import utcnow
from service.cluster.snapshot import Identity, SnapshotTaker
from service.cluster.stats_part import ClusterStats
from service.kafka.seams import EventProducer, TopicReader
from service.metrics import Metrics
from service.routing.registry import Registry


def part() -> ClusterStats:
    taker = SnapshotTaker(Identity("me", None), Registry(), Metrics(), dict, 1.0)
    return ClusterStats(taker, cast(EventProducer, None), cast(TopicReader, None), "stats", 1.0)


def record(instance: str, published_in_s: float, scored: int = 0) -> bytes:
    taker = SnapshotTaker(Identity(instance, None), Registry(), Metrics(), dict, 1.0)
    doc: dict[str, Any] = taker.take().document()
    doc["publishedAt"] = (utcnow() + timedelta(seconds=published_in_s)).isoformat()
    doc["stats"]["scored"] = scored
    return orjson.dumps(doc)


def seen(stats: ClusterStats) -> dict[str, Any]:
    return {s.snapshot.instance: s for s in stats.snapshots()}


def test_fresh_records_are_stamped_on_arrival_old_ones_with_their_time() -> None:
    stats = part()
    stats.take(b"ahead", record("ahead", published_in_s=3600), fresh=True)
    stats.take(b"old", record("old", published_in_s=-60), fresh=False)
    stats.take(b"future-old", record("future-old", published_in_s=3600), fresh=False)
    found, now = seen(stats), utcnow()
    assert found["ahead"].alive(now)
    assert not found["old"].alive(now) and 59 < found["old"].age_s(now) < 120
    assert found["future-old"].age_s(now) < 1  # capped at now, not in the future


def test_the_latest_record_wins_a_tombstone_forgets_and_junk_is_passed_over() -> None:
    stats = part()
    stats.take(b"a", record("a", 0, scored=5), fresh=True)
    stats.take(b"a", record("a", -30, scored=7), fresh=True)  # later offset, older clock
    assert seen(stats)["a"].snapshot.stats.scored == 7
    stats.take(b"a", b'{"instance": "a", "stats": {"consumed": null}}', fresh=True)
    stats.take(b"a", b"\xff not json", fresh=True)
    # Counts no process can have: summed across the deployment, they would break /cluster.
    stats.take(b"a", record("a", 0, scored=2**64 - 1), fresh=True)
    stats.take(b"a", b"[" * 1000 + b"]" * 1000, fresh=True)
    assert seen(stats)["a"].snapshot.stats.scored == 7
    stats.take(b"a", None, fresh=True)
    assert set(seen(stats)) == {"me"}


class GoneBroker:
    """A producer whose broker is gone: every send fails."""

    def __init__(self) -> None:
        self.sends = 0

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self.sends += 1
        raise KafkaConnectionError("broker gone")


async def test_a_broker_gone_delays_snapshots_and_stops_nothing() -> None:
    producer = GoneBroker()
    taker = SnapshotTaker(Identity("me", None), Registry(), Metrics(), dict, 1.0)
    stats = ClusterStats(
        taker, cast(EventProducer, producer), cast(TopicReader, None), "stats", 1.0
    )
    await stats.stop()  # the last word, on a clean stop: attempted, not fatal
    assert producer.sends == 1
    stats.clean_stop = False
    await stats.stop()  # a process that failed says nothing: it ages out
    assert producer.sends == 1
    assert [s.snapshot.instance for s in stats.snapshots()] == ["me"]
