"""The data part's restart policy (kafka/data_part.py), over loops that fail as told: a
retriable failure (the broker) is restarted for as long as it takes, one warning line each; a
bug is logged with its traceback and restarted, until ``data_failure_limit`` of them fall
within ``data_failure_window_s`` and the part raises. Backoff waits are a millisecond."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator

import pytest
from aiokafka.errors import KafkaTimeoutError, UnknownMemberIdError

from service.kafka.commits import DeliveryError
from service.kafka.data_part import DataLoopFailedError, DataPart
from service.metrics import Metrics
from service.parts import Backoff
from service.settings import Settings

LOGGER = "service.kafka.data_part"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScriptedLoop:
    """A data loop whose run raises ``error``, or (None) runs until asked to stop."""

    def __init__(self, error: Exception | None, healthy: asyncio.Event) -> None:
        self.error = error
        self.healthy = healthy
        self.assigned = asyncio.Event()
        self.lags: dict[tuple[str, int], int | None] = {}
        self.closed = False
        self._stop = asyncio.Event()

    async def start(self) -> None:
        pass

    async def run(self) -> None:
        if self.error is not None:
            raise self.error
        self.healthy.set()
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        self.closed = True


class Script:
    """Makes the loops: one per error given, then healthy ones."""

    def __init__(self, errors: list[Exception]) -> None:
        self._errors: Iterator[Exception] = iter(errors)
        self.loops: list[ScriptedLoop] = []
        self.healthy = asyncio.Event()

    def __call__(self) -> ScriptedLoop:
        loop = ScriptedLoop(next(self._errors, None), self.healthy)
        self.loops.append(loop)
        return loop


def data_part(
    script: Script,
    metrics: Metrics,
    limit: int = 3,
    window_s: float = 600.0,
    clock: Callable[[], float] | None = None,
) -> DataPart:
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",  # topics are ensured in vain, at once
        data_failure_limit=limit,
        data_failure_window_s=window_s,
        drain_timeout_s=5.0,
    )
    caught_up = asyncio.Event()
    caught_up.set()
    backoff = Backoff(0.001, 0.001)
    if clock is None:
        return DataPart(settings, script, caught_up, metrics, backoff)
    return DataPart(settings, script, caught_up, metrics, backoff, clock)


def restarts(metrics: Metrics, cause: str) -> float | None:
    return metrics.registry.get_sample_value(
        "modelserve_data_plane_restarts_total", {"cause": cause}
    )


async def test_a_retriable_failure_is_restarted_for_as_long_as_it_takes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    script = Script([DeliveryError("broker gone")] * 10)
    metrics = Metrics()
    part = data_part(script, metrics, limit=2)
    task = asyncio.create_task(part.run())
    await asyncio.wait_for(script.healthy.wait(), 10)
    assert not task.done()  # ten failures, more than the limit: none of them counts
    assert restarts(metrics, "retriable") == 10 and restarts(metrics, "non-retriable") == 0
    assert all(loop.closed for loop in script.loops[:10])
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 10
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert "DeliveryError: broker gone" in lines[0].getMessage()
    await part.stop()
    await asyncio.wait_for(task, 5)  # a stop ends the run, without an error
    await part.close()


async def test_a_kafka_error_aiokafka_calls_final_is_restarted_too() -> None:
    """A time-out or a lost group membership is the cluster's state: never counted."""
    script = Script([KafkaTimeoutError(), UnknownMemberIdError()] * 3)
    metrics = Metrics()
    part = data_part(script, metrics, limit=2)
    task = asyncio.create_task(part.run())
    await asyncio.wait_for(script.healthy.wait(), 10)
    assert not task.done()
    assert restarts(metrics, "retriable") == 6 and restarts(metrics, "non-retriable") == 0
    await part.stop()
    await asyncio.wait_for(task, 5)


async def test_a_bug_is_logged_with_its_traceback_and_the_part_raises_at_the_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    script = Script([KeyError("no such field")] * 10)
    metrics = Metrics()
    part = data_part(script, metrics, limit=3)
    with pytest.raises(DataLoopFailedError, match="3 failures of the data loop in 600s") as caught:
        await asyncio.wait_for(part.run(), 10)
    assert isinstance(caught.value.__cause__, KeyError)
    assert len(script.loops) == 3  # the first and two restarts
    assert restarts(metrics, "non-retriable") == 2
    errors = [r for r in caplog.records if r.name == LOGGER]
    assert len(errors) == 2 and all(r.levelno == logging.ERROR for r in errors)
    assert all(r.exc_info is not None and r.exc_info[0] is KeyError for r in errors)
    assert "Traceback" in caplog.text and "no such field" in caplog.text
    await part.stop()  # a part whose run failed still stops and closes
    await part.close()
    assert script.loops[-1].closed


async def test_bugs_count_within_the_window_and_broker_failures_not_at_all() -> None:
    """Spread wider than the window, any number of bugs is restarted; within it, the
    retriable failures between them do not bring the limit nearer."""
    now = [0.0]

    def clock() -> float:
        now[0] += 601.0  # every failure a window after the one before
        return now[0]

    spread = Script([TypeError("bug")] * 6)
    metrics = Metrics()
    part = data_part(spread, metrics, limit=2, window_s=600.0, clock=clock)
    task = asyncio.create_task(part.run())
    await asyncio.wait_for(spread.healthy.wait(), 10)
    assert not task.done() and restarts(metrics, "non-retriable") == 6
    await part.stop()
    await asyncio.wait_for(task, 5)

    broker = DeliveryError("gone")
    mixed = Script([TypeError("bug"), broker, broker, broker, TypeError("bug"), broker])
    part = data_part(mixed, Metrics(), limit=3)
    task = asyncio.create_task(part.run())
    await asyncio.wait_for(mixed.healthy.wait(), 10)
    assert not task.done()
    await part.stop()
    await asyncio.wait_for(task, 5)


async def test_a_group_of_errors_with_a_bug_in_it_is_a_bug() -> None:
    """The data loop's two stages fail as a task group: one bug among broker errors counts."""
    group = ExceptionGroup("data loop", [DeliveryError("gone"), TypeError("bug")])
    script = Script([group])
    metrics = Metrics()
    part = data_part(script, metrics, limit=1)
    with pytest.raises(DataLoopFailedError, match="TypeError: bug"):
        await asyncio.wait_for(part.run(), 10)
    assert restarts(metrics, "non-retriable") == 0
