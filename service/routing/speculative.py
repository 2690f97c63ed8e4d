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
from service.routing.route_spec import SpeculativeRoute as SpeculativeSpec
from service.routing.route_stats import SpeculativeStats
from service.routing.routes import Answerer, Answers, MemberScores, RouteBatch, Runner
from service.routing.serving import ServingModel
from service.routing.slots import Missed

LONG_S = 3600.0  # a candidate that was started runs to its end


class SpeculativeRouting:
    mode = "speculative"

    def __init__(
        self, spec: SpeculativeSpec, candidates: list[ServingModel], stats: SpeculativeStats
    ) -> None:
        self.data_type = spec.data_type
        self._candidates = tuple(candidates)
        self._deadline_s = spec.deadline_ms / 1000.0
        self._decider = spec.decider
        self._stats = stats

    @property
    def primary(self) -> ServingModel:
        return self._candidates[0]

    @property
    def members(self) -> tuple[ServingModel, ...]:
        return self._candidates

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        deadline = loop.time() + self._deadline_s
        racing = self._start(batch, run, loop.time() + LONG_S)
        done, _ = await asyncio.wait(racing.values(), timeout=max(0.0, deadline - loop.time()))
        if not done:  # none by the deadline: the first to finish
            done, _ = await asyncio.wait(racing.values(), return_when=asyncio.FIRST_COMPLETED)
        finished: list[MemberScores] = []
        for candidate in self._candidates:
            task = racing.get(candidate)
            result = task.result() if task is not None and task in done else None
            if isinstance(result, MemberScores):
                finished.append(result)
            elif task is not None:
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
            racing[candidate] = asyncio.ensure_future(
                slot.run(partial(run, candidate, batch.rows), until)
            )
        if not racing:  # every one busy: the first listed, once it is free
            first = self._candidates[0]
            slot = self._stats.slot(first.name)
            racing[first] = asyncio.ensure_future(slot.run(partial(run, first, batch.rows), until))
        return racing

    def _decide(self, finished: list[MemberScores], n: int) -> Answers:
        """Per row, the chosen finished candidate that answered it (the next in order where
        the chosen one could not); the first finished candidate's error where none did."""
        if not finished:  # every started candidate missed (it cannot: they run to their end)
            raise RuntimeError("no speculative candidate finished")
        columns = [columns_of(s) for s in finished]
        ok = np.array([c.ok for c in columns])  # candidates × rows
        if self._decider == "most-confident":
            confidence = np.array([c.confidence() for c in columns])
            rank = np.where(ok, confidence, -1.0)
        else:
            rank = np.where(ok, -np.arange(len(finished))[:, None].astype(np.float64), -np.inf)
        chosen = rank.argmax(axis=0)  # ties: the one listed first
        answerers: list[Answerer] = []
        results: list[bytes | RecordError] = []
        for j, c in enumerate(chosen.tolist()):
            scores = finished[c]
            answerers.append(scores.serving)
            results.append(scores.rows[j])
        for c, scores in enumerate(finished):
            self._stats.candidate(scores.serving.name).wins += int(
                np.count_nonzero((chosen == c) & ok[c])
            )
        return Answers(answerers, results)
