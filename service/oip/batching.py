"""Request-reply batched like the stream (scoring/batching.py says the policy): requests for
one model that arrive while it scores wait, and are scored together in its next call, up to
a cap in rows; a request that finds the model idle is scored at once. Nothing waits for a
request that is not there, and under load batches grow by themselves.

Each request gets its own rows of the answer back, or why not: a row the model cannot answer
fails its request with the reason (never a wrong answer), and only that request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.errors import RecordError
from service.inputs.schema import TypedBatch
from service.oip.messages import OipError
from service.runtimes.base import BatchResult
from service.serving.model import ServingModel
from service.serving.route import MemberScores

log = logging.getLogger(__name__)

Score = Callable[[ServingModel, TypedBatch], Awaitable[MemberScores]]


@dataclass
class _Waiting:
    batch: TypedBatch
    answer: asyncio.Future[BatchResult]


class RequestBatcher:
    def __init__(self, score: Score, max_rows: int) -> None:
        self._score = score
        self._max_rows = max(1, max_rows)
        # Per model in service (the object: a new version is another queue), the requests
        # waiting for its next call; a model has a queue only while it has requests.
        self._waiting: dict[ServingModel, list[_Waiting]] = {}
        self._drains: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def answer(self, serving: ServingModel, batch: TypedBatch) -> BatchResult:
        """The model's answer for the batch's rows; raises OipError when a row has none."""
        waiting = self._waiting.get(serving)
        future: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        if waiting is None:
            waiting = self._waiting[serving] = [_Waiting(batch, future)]
            drain = asyncio.get_running_loop().create_task(self._drain(serving, waiting))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        else:
            waiting.append(_Waiting(batch, future))
        return await future

    async def _drain(self, serving: ServingModel, waiting: list[_Waiting]) -> None:
        """Score what waits, call after call, until nothing does."""
        live: list[_Waiting] = []
        try:
            while waiting:
                taken = _take(waiting, self._max_rows)
                live = [w for w in taken if not w.answer.done()]  # a client that left
                if not live:
                    continue
                together = TypedBatch.concatenated([w.batch for w in live])
                try:
                    scores = await self._score(serving, together)
                except Exception as exc:  # never the loop: each request is told
                    log.exception("scoring requests with %s failed", serving.label)
                    failed = OipError(500, f"the service could not score it: {type(exc).__name__}")
                    for w in live:
                        _settle(w.answer, failed)
                    continue
                _split(scores, live)
        finally:
            del self._waiting[serving]
            for w in [*live, *waiting]:  # only when cancelled mid-call
                _settle(w.answer, OipError(503, "the service is stopping"))


def _take(waiting: list[_Waiting], max_rows: int) -> list[_Waiting]:
    """The oldest requests up to ``max_rows`` rows (at least one request)."""
    rows = 0
    count = 0
    for w in waiting:
        if count and rows + w.batch.size > max_rows:
            break
        rows += w.batch.size
        count += 1
    taken = waiting[:count]
    del waiting[:count]
    return taken


def _split(scores: MemberScores, live: list[_Waiting]) -> None:
    """Each request its rows of the answer, or the first of its rows' errors."""
    result = scores.result
    # Where each row of the batch is in the answer's columns (None: not answered).
    answered = scores.scored if scores.scored is not None else range(len(scores.rows))
    position = {row: k for k, row in enumerate(answered)}
    start = 0
    for w in live:
        rows = range(start, start + w.batch.size)
        start += w.batch.size
        error = next(
            (scores.rows[i] for i in rows if isinstance(scores.rows[i], RecordError)), None
        )
        if isinstance(error, RecordError):
            row = next(i for i in rows if scores.rows[i] is error) - rows.start
            status = 400 if error.reason == "invalid-record" else 500
            _settle(w.answer, OipError(status, f"row {row}: {error}"))
        elif result is None or any(i not in position for i in rows):
            _settle(w.answer, OipError(500, "the model gave no answer for a row"))
        else:
            _settle(w.answer, result.take([position[i] for i in rows]))


def _settle(future: asyncio.Future[BatchResult], outcome: BatchResult | OipError) -> None:
    if future.done():
        return
    if isinstance(outcome, OipError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
