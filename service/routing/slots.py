"""One model call at a time per member for work whose answer may come too late to be used (a
shadow's, a speculative candidate's). A model call runs in a thread that cannot be stopped, so
a member slower than the stream would otherwise start a thread per batch and pile them up; here
a batch waits for the member's previous call (a few at most) or goes without it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from service.errors import ModelUnavailableError
from service.serving.model import ServingModel

T = TypeVar("T")
# "unavailable": the member is a remote model whose server did not answer (never the rows'
# fault: a shadow counts it as an error, a speculative candidate as not finished).
Missed = Literal["timeout", "skipped", "unavailable"]


def held(serving: ServingModel, work: Awaitable[T]) -> asyncio.Future[T]:
    """``work`` (a model's call through its slot) as a task that holds the model from now to
    its end: a batch waiting in the slot is not left with a model closed meanwhile (a new
    version swapped in, the model retired)."""
    serving.acquire()
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda _: serving.release())
    return task


class MemberSlot:
    def __init__(self, max_waiting: int) -> None:
        self._lock = asyncio.Lock()
        self._max_waiting = max_waiting
        self._waiting = 0

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, start: Callable[[], Awaitable[T]], deadline: float) -> T | Missed:
        """``start()``'s answer if it comes by ``deadline`` (the loop's clock); "skipped" when
        too many batches already wait for this member, "timeout" when the deadline passes
        first. A call that misses its deadline still holds the slot until it ends."""
        if self._lock.locked() and self._waiting >= self._max_waiting:
            return "skipped"
        loop = asyncio.get_running_loop()
        self._waiting += 1
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            return "timeout"
        finally:
            self._waiting -= 1
        if loop.time() >= deadline:
            self._lock.release()
            return "timeout"
        work = asyncio.ensure_future(start())
        work.add_done_callback(self._done)
        try:
            return await asyncio.wait_for(asyncio.shield(work), deadline - loop.time())
        except TimeoutError:
            return "timeout"
        except ModelUnavailableError:
            return "unavailable"

    def _done(self, work: asyncio.Future[Any]) -> None:
        self._lock.release()
        if not work.cancelled():
            work.exception()  # retrieved: one nobody waits for any more is not logged as lost
