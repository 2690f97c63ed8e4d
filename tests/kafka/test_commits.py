"""The commit room without a broker: offsets are committed in fetch order whatever order the
acknowledgements arrive in, never past an unacknowledged output, and a failed commit is tried
again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from service.kafka.commits import Committer, DeliveryError, InFlight
from service.kafka.seams import OffsetAndMetadata, TopicPartition
from service.metrics import Metrics

T0, T1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Owner:
    """A CommitTarget owning both partitions; ``fail`` makes the next commits fail."""

    def __init__(self, fail: int = 0) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    def assignment(self) -> set[TopicPartition]:
        return {T0, T1}

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        if self.fail:
            self.fail -= 1
            raise KafkaConnectionError("broker busy")
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


def offsets(**by_partition: int) -> dict[TopicPartition, OffsetAndMetadata]:
    return {
        TopicPartition("t", int(k[1:])): OffsetAndMetadata(v, "") for k, v in by_partition.items()
    }


def pending() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def settled(error: BaseException | None = None) -> asyncio.Future[Any]:
    future = pending()
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
    return future


async def test_acks_out_of_order_commit_in_fetch_order() -> None:
    owner, metrics = Owner(), Metrics()
    committer = Committer(owner, metrics, commit_interval_ms=0)
    first, second = pending(), pending()
    await committer.hand_over(InFlight([first], offsets(p0=5)))
    await committer.hand_over(InFlight([second], offsets(p0=9, p1=3)))
    running = asyncio.create_task(committer.run())
    second.set_result(None)  # the later batch is acknowledged first
    for _ in range(20):
        await asyncio.sleep(0)
    assert owner.commits == []  # nothing may be committed before the first batch is
    first.set_result(None)
    await committer.drain()
    running.cancel()
    assert owner.commits[0] == {T0: 5}
    assert owner.commits[-1] == {T0: 9, T1: 3}
    assert metrics.registry.get_sample_value(
        "modelserve_offset_commits_total", {"outcome": "ok"}
    ) == len(owner.commits)


async def test_nothing_is_committed_past_an_unacknowledged_output() -> None:
    owner, metrics = Owner(), Metrics()
    committer = Committer(owner, metrics, commit_interval_ms=0)
    await committer.hand_over(InFlight([settled()], offsets(p0=5)))
    await committer.hand_over(InFlight([settled(), settled(OSError("broker gone"))], offsets(p0=9)))
    await committer.hand_over(InFlight([settled()], offsets(p1=7)))
    with pytest.raises(DeliveryError, match="broker gone"):
        await committer.run()
    assert owner.commits == [{T0: 5}]  # neither the failed batch nor the one after it
    assert metrics.registry.get_sample_value("modelserve_produce_errors_total") == 1.0


async def test_a_failed_commit_is_kept_and_retried_with_newer_offsets() -> None:
    owner = Owner(fail=1)
    # A long interval: only drains commit, so each attempt is the test's.
    committer = Committer(owner, Metrics(), commit_interval_ms=60_000)
    running = asyncio.create_task(committer.run())
    await committer.hand_over(InFlight([settled()], offsets(p0=5, p1=2)))
    await committer.drain()  # the commit fails: kept
    assert owner.commits == []
    await committer.hand_over(InFlight([settled()], offsets(p0=8)))
    await committer.drain()
    running.cancel()
    assert owner.commits == [{T0: 8, T1: 2}]  # the newer offset wins, the kept one rides along


async def test_offsets_of_partitions_no_longer_owned_are_not_committed() -> None:
    class Lost(Owner):
        def assignment(self) -> set[TopicPartition]:
            return {T1}

    owner = Lost()
    committer = Committer(owner, Metrics(), commit_interval_ms=0)
    running = asyncio.create_task(committer.run())
    await committer.hand_over(InFlight([settled()], offsets(p0=5, p1=4)))
    await committer.drain()
    running.cancel()
    assert owner.commits == [{T1: 4}]


async def test_commits_are_coalesced_per_interval() -> None:
    owner = Owner()
    committer = Committer(owner, Metrics(), commit_interval_ms=60_000)
    running = asyncio.create_task(committer.run())
    for end in (3, 6, 9):
        await committer.hand_over(InFlight([settled()], offsets(p0=end)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert owner.commits == []  # within the interval: acknowledged, not yet committed
    await committer.drain()  # a drain (revoke, stop) commits at once
    running.cancel()
    assert owner.commits == [{T0: 9}]


async def test_after_a_failed_acknowledgement_a_drain_does_not_wait_forever() -> None:
    """A rebalance drains the committer; if the committer stopped on a failure, the batches
    behind the failed one will never be acknowledged here: the drain must return."""
    owner = Owner()
    committer = Committer(owner, Metrics(), commit_interval_ms=0)
    await committer.hand_over(InFlight([settled()], offsets(p0=2)))
    await committer.hand_over(InFlight([settled(OSError("gone"))], offsets(p0=4)))
    await committer.hand_over(InFlight([pending()], offsets(p0=6)))
    with pytest.raises(DeliveryError):
        await committer.run()
    await asyncio.wait_for(committer.drain(), 5)
    assert owner.commits == [{T0: 2}]
