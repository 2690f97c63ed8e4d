"""Shadow mode: the primary answers as if alone; each shadow scores the same records (or a
stable sample of them, by key) beside it, and its answers go to the shadow topic with the
primary's answer alongside, for comparing a candidate model on live traffic.

A shadow never delays or fails the primary: it runs concurrently, its answers are written
after the primary's (the batch's commit waits for both), and what it fails, misses by the
timeout or skips when overloaded is counted, never dead-lettered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
import orjson

from service.routing.columns import Columns, answer_json, columns_of
from service.routing.route_spec import ShadowSpec
from service.routing.route_stats import ShadowStats
from service.routing.routes import stable_fraction
from service.routing.slots import Missed, held
from service.serving.model import ServingModel
from service.serving.route import Answers, MemberScores, RouteBatch, Runner, SideAnswer

ROLE = "shadow"
log = logging.getLogger(__name__)


class ShadowRoute:
    mode = "shadow"

    def __init__(
        self,
        spec: ShadowSpec,
        primary: ServingModel,
        shadows: Sequence[ServingModel],
        stats: ShadowStats,
        timeout_s: float,
    ) -> None:
        self.data_type = spec.data_type
        self._primary = self.primary = primary
        self._shadows = tuple(shadows)
        self.members: tuple[ServingModel, ...] = (primary, *self._shadows)
        self._sample = spec.sample
        self._stats = stats
        self._timeout_s = timeout_s

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        n = len(batch.rows)
        if not batch.shadows:
            scores = await run(self._primary, batch.rows)
            return Answers([self._primary] * n, scores.rows)
        sampled = self._sampled(batch)
        rows = batch.rows if len(sampled) == n else [batch.rows[j] for j in sampled]
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        started = [
            (s, held(s, self._stats.slot(s.name).run(partial(run, s, rows), deadline)))
            for s in self._shadows
        ]
        began = time.perf_counter()
        scores = await run(self._primary, batch.rows)
        self._stats.record_primary(n, (time.perf_counter() - began) * 1000.0)
        answers = Answers([self._primary] * n, scores.rows)
        answers.after.append(asyncio.ensure_future(self._compare(scores, sampled, started)))
        return answers

    def _sampled(self, batch: RouteBatch) -> list[int]:
        if self._sample >= 1.0:
            return list(range(len(batch.rows)))
        return [j for j, key in enumerate(batch.keys()) if stable_fraction(key) < self._sample]

    async def _compare(
        self,
        primary: MemberScores,
        sampled: list[int],
        started: Sequence[tuple[ServingModel, asyncio.Future[MemberScores | Missed]]],
    ) -> list[SideAnswer]:
        """Each shadow's answers, once it has them (or has missed them), with the primary's
        beside them; the agreement of the two is counted here, off the primary's path."""
        out: list[SideAnswer] = []
        try:
            mine = columns_of(primary)
            briefs = _briefs(primary, mine)
        except Exception:  # a shadow never fails the primary, even through a bug of ours
            log.exception("comparing shadows with %s failed", primary.serving.label)
            briefs = None
        picked = np.asarray(sampled, dtype=np.intp)
        for shadow, future in started:
            stats = self._stats.member(shadow.name)
            scores = await future
            if isinstance(scores, str):
                stats.missed(scores, len(sampled))
                continue
            stats.record_latency(len(sampled), scores.elapsed_ms)
            answered = [k for k, r in enumerate(scores.rows) if isinstance(r, bytes)]
            stats.record_errors(len(sampled) - len(answered))
            if briefs is None:
                continue
            try:
                stats.record_agreement(*_agreement(mine, columns_of(scores), picked))
            except Exception:
                log.exception("agreement of shadow %s failed", shadow.label)
            for k in answered:
                j = sampled[k]
                result = scores.rows[k]
                assert isinstance(result, bytes)
                out.append(SideAnswer(j, shadow, result, briefs[j]))
        return out


def _briefs(primary: MemberScores, columns: Columns) -> list[bytes]:
    """The primary's answer for each row in brief: its label or value (its whole result for
    a model of other outputs), or the reason it gave none."""
    head = primary.serving.model_json[:-1] + b","  # {"name":…,"version":…,
    answers = answer_json(columns)
    return [
        head + (answers[i] if answers else b'"result":' + row) + b"}"
        if isinstance(row, bytes)
        else head + b'"error":' + orjson.dumps(row.reason) + b"}"
        for i, row in enumerate(primary.rows)
    ]


def _agreement(
    primary: Columns, shadow: Columns, picked: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], bool]:
    """Per record both answered: 1/0 for equal labels, or the absolute difference of values;
    and whether these are label agreements (True) or differences (False)."""
    both = primary.ok[picked] & shadow.ok
    if primary.labels is not None and shadow.labels is not None:
        mine = np.asarray(primary.labels, dtype=object)[picked][both]
        theirs = np.asarray(shadow.labels, dtype=object)[both]
        return (mine == theirs).astype(np.float64), True
    if primary.values is not None and shadow.values is not None:
        return np.abs(primary.values[picked][both] - shadow.values[both]), False
    return np.zeros(0), True
