"""Speculative mode (Lightbend's speculative model serving): the candidates score a batch
concurrently; at the deadline the decider picks among those that have finished — the first
listed, or record by record the most confident (highest probability). If none has finished,
the first to finish answers: a record is never dropped.

The deadline applies per batch, from the start of its scoring: a batch of many records takes
longer than one of few, so a candidate meets a tight deadline only when its whole batch fits
in it (MAX_BATCH_SIZE bounds that). A candidate still busy with an earlier batch sits the
next one out (a timeout) instead of queueing another thread behind itself."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import numpy as np

from service.errors import RecordError
from service.routing.columns import columns_of
from service.routing.route_spec import SpeculativeSpec
from service.routing.route_stats import SpeculativeStats
from service.routing.slots import Missed, held
from service.serving.model import ServingModel
from service.serving.route import Answerer, Answers, MemberScores, RouteBatch, Runner

LONG_S = 3600.0  # a candidate that was started runs to its end


class SpeculativeRoute:
    mode = "speculative"

    def __init__(
        self, spec: SpeculativeSpec, candidates: list[ServingModel], stats: SpeculativeStats
    ) -> None:
        self.data_type = spec.data_type
        self._candidates = self.members = tuple(candidates)
        self.primary = candidates[0]
        self._deadline_s = spec.deadline_ms / 1000.0
        self._decider = spec.decider
        self._stats = stats

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        deadline = loop.time() + self._deadline_s
        racing = self._start(batch, run, loop.time() + LONG_S)
        done, pending = await asyncio.wait(
            racing.values(), timeout=max(0.0, deadline - loop.time())
        )
        finished = self._finished(racing, done)
        while not finished and pending:  # none by the deadline: the first to finish
            more, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            done |= more
            finished = self._finished(racing, done)
        if not finished:
            # Every one started was turned away by a concurrent batch (a request while the
            # stream races): the first listed answers, outside its slot, so no record waits
            # for nothing or is dropped.
            finished = [await run(self._candidates[0], batch.rows)]
        for candidate, task in racing.items():
            if task not in done or not isinstance(task.result(), MemberScores):
                self._stats.candidate(candidate.name).timeouts += 1
        answers = self._decide(finished, len(batch.rows))
        self._stats.record_decision(len(batch.rows), (time.perf_counter() - began) * 1000.0)
        return answers

    def _start(
        self, batch: RouteBatch, run: Runner, until: float
    ) -> dict[ServingModel, asyncio.Future[MemberScores | Missed]]:
        racing: dict[ServingModel, asyncio.Future[MemberScores | Missed]] = {}
        for candidate in self._candidates:
            slot = self._stats.slot(candidate.name)
            if slot.busy:  # still on an earlier batch: sits this one out
                self._stats.candidate(candidate.name).timeouts += 1
                continue
            racing[candidate] = held(
                candidate, slot.run(partial(run, candidate, batch.rows), until)
            )
        return racing

    def _finished(
        self,
        racing: dict[ServingModel, asyncio.Future[MemberScores | Missed]],
        done: set[asyncio.Future[MemberScores | Missed]],
    ) -> list[MemberScores]:
        """The answers of the candidates done, in the order they are listed."""
        found = []
        for candidate in self._candidates:
            task = racing.get(candidate)
            result = task.result() if task is not None and task in done else None
            if isinstance(result, MemberScores):
                found.append(result)
        return found

    def _decide(self, finished: list[MemberScores], n: int) -> Answers:
        """Per row, the chosen finished candidate that answered it (the next in order where
        the chosen one could not); the first finished candidate's error where none did."""
        columns = [columns_of(s) for s in finished]
        ok = np.array([c.ok for c in columns])  # candidates × rows
        if self._decider == "most-confident":
            confidence = np.array([c.confidence() for c in columns])
            rank = np.where(ok, confidence, -1.0)
        else:
            rank = np.where(ok, -np.arange(len(finished))[:, None].astype(np.float64), -np.inf)
        chosen = rank.argmax(axis=0)  # ties: the one listed first
        for c, scores in enumerate(finished):
            self._stats.candidate(scores.serving.name).wins += int(
                np.count_nonzero((chosen == c) & ok[c])
            )
        if not chosen.any():  # the usual case: the first finished answers every row
            first = finished[0]
            return Answers([first.serving] * n, first.rows)
        answerers: list[Answerer] = []
        results: list[bytes | RecordError] = []
        for j, c in enumerate(chosen.tolist()):
            scores = finished[c]
            answerers.append(scores.serving)
            results.append(scores.rows[j])
        return Answers(answerers, results)
