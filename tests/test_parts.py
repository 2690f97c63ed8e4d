"""The life of parts (parts.PartRunner): started in order, a start that fails retriably tried
again until it succeeds or a stop is requested, one that fails for good raised; a part whose
run fails ends liveness and is raised by ``wait``; stopped in reverse order, every part
closed even when another fails to stop or close."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError

from service.parts import Backoff, PartRunner

SHORT = Backoff(0.001, 0.002)


class Recorded:
    """A part that writes what happens to it into a shared list, and fails where told."""

    def __init__(
        self,
        name: str,
        events: list[str],
        start_failures: list[BaseException] | None = None,
        stop_error: Exception | None = None,
        close_error: Exception | None = None,
        close_hangs: bool = False,
        stop_hangs: bool = False,
    ) -> None:
        self.name = name
        self.events = events
        self.start_failures = list(start_failures or [])
        self.stop_error = stop_error
        self.close_error = close_error
        self.close_hangs = close_hangs  # as a producer flushing to a broker that is gone
        self.stop_hangs = stop_hangs  # as a server waiting on a connection that never closes
        self.fail = asyncio.Event()  # set: run raises
        self.stopping = asyncio.Event()
        self.retried = asyncio.Event()  # its start was tried again

    async def start(self) -> None:
        if f"start {self.name}" in self.events:
            self.retried.set()
        self.events.append(f"start {self.name}")
        if self.start_failures:
            raise self.start_failures.pop(0)

    async def run(self) -> None:
        stop = asyncio.create_task(self.stopping.wait())
        fail = asyncio.create_task(self.fail.wait())
        await asyncio.wait([stop, fail], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        fail.cancel()
        if self.fail.is_set():
            raise TypeError(f"{self.name} has a bug")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")
        if self.stop_hangs:
            await asyncio.Event().wait()
        self.stopping.set()
        if self.stop_error is not None:
            raise self.stop_error

    async def close(self) -> None:
        self.events.append(f"close {self.name}")
        if self.close_error is not None:
            raise self.close_error
        if self.close_hangs:
            await asyncio.Event().wait()


def runner(*parts: Recorded) -> PartRunner:
    return PartRunner(parts, backoff=lambda: Backoff(SHORT.first_s, SHORT.max_s))


async def test_parts_start_in_order_and_stop_and_close_in_reverse() -> None:
    events: list[str] = []
    parts = runner(Recorded("a", events), Recorded("b", events))
    assert await parts.start()
    assert parts.is_live()
    parts.request_stop()
    await asyncio.wait_for(parts.wait(), 5)
    await parts.stop()
    assert events == ["start a", "start b", "stop b", "close b", "stop a", "close a"]
    await parts.stop()  # once
    assert len(events) == 6


async def test_a_retriable_start_is_tried_again_and_a_bug_is_raised() -> None:
    events: list[str] = []
    flaky = Recorded("flaky", events, [KafkaConnectionError("away"), OSError("refused")])
    parts = runner(flaky)
    assert await parts.start()
    assert events == ["start flaky"] * 3
    await parts.stop()

    broken = Recorded("broken", events, [TypeError("a bug")])
    after = Recorded("after", events)
    parts = runner(broken, after)
    with pytest.raises(TypeError, match="a bug"):
        await parts.start()
    await parts.stop()
    assert events[-4:] == ["stop after", "close after", "stop broken", "close broken"]


async def test_a_stop_ends_a_start_still_waiting() -> None:
    events: list[str] = []
    away = Recorded("away", events, [KafkaConnectionError("away")] * 10_000)
    parts = PartRunner([away], backoff=lambda: Backoff(0.01, 0.01))
    starting = asyncio.create_task(parts.start())
    await asyncio.wait_for(away.retried.wait(), 5)
    parts.request_stop()
    assert await asyncio.wait_for(starting, 5) is False
    await asyncio.wait_for(parts.wait(), 5)  # nothing runs: returns at once
    await parts.stop()


async def test_a_failed_part_ends_liveness_and_wait_raises_it_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    healthy, failing = Recorded("healthy", events), Recorded("failing", events)
    parts = runner(healthy, failing)
    await parts.start()
    failing.fail.set()
    with pytest.raises(TypeError, match="failing has a bug"):
        await asyncio.wait_for(parts.wait(), 5)
    assert not parts.is_live()
    failed = [r for r in caplog.records if r.getMessage() == "failing failed"]
    assert failed and failed[0].exc_info is not None
    await parts.stop()
    assert events[-2:] == ["stop healthy", "close healthy"]


async def test_one_part_failing_to_stop_or_close_stops_no_other_from_closing() -> None:
    events: list[str] = []
    parts = runner(
        Recorded("a", events),
        Recorded("b", events, close_error=RuntimeError("close")),
        Recorded("c", events, stop_error=RuntimeError("stop")),
    )
    await parts.start()
    await parts.stop()
    assert [e for e in events if e.startswith("close")] == ["close c", "close b", "close a"]


async def test_a_close_that_hangs_is_left_behind_and_the_others_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    parts = PartRunner(
        [Recorded("a", events), Recorded("b", events, close_hangs=True)],
        backoff=lambda: Backoff(SHORT.first_s, SHORT.max_s),
        close_timeout_s=0.01,
    )
    await parts.start()
    await asyncio.wait_for(parts.stop(), 30)  # without the bound, this never returns
    assert [e for e in events if e.startswith("close")] == ["close b", "close a"]
    assert any("closing b took over" in r.getMessage() for r in caplog.records)


async def test_a_stop_that_hangs_is_ended_and_every_part_still_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    hanging = Recorded("b", events, stop_hangs=True)
    parts = PartRunner(
        [Recorded("a", events), hanging],
        backoff=lambda: Backoff(SHORT.first_s, SHORT.max_s),
        stop_timeout_s=0.05,
    )
    await parts.start()
    await asyncio.wait_for(parts.stop(), 30)  # without the bound, this never returns
    assert [e for e in events if e.startswith("close")] == ["close b", "close a"]
    assert any("stopping b took over" in r.getMessage() for r in caplog.records)
    assert not parts.is_live()  # b's run was ended by cancelling it


def test_backoff_doubles_up_to_its_most() -> None:
    backoff = Backoff(1.0, 5.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
