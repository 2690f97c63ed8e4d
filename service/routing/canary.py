"""Canary mode: each record goes to one member, chosen by a stable hash of its key (its id
when it has none) against the weights, so the same key always reaches the same model, on
every replica and across restarts. Members score their shares concurrently."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import numpy.typing as npt

from service.errors import RecordError
from service.routing.route_spec import CanarySpec
from service.routing.route_stats import SplitStats
from service.routing.routes import stable_fraction
from service.serving.model import ServingModel
from service.serving.route import Answerer, Answers, RouteBatch, Runner


class CanaryRoute:
    mode = "canary"

    def __init__(self, spec: CanarySpec, members: list[ServingModel], stats: SplitStats) -> None:
        self.data_type = spec.data_type
        self._members = self.members = tuple(members)
        self.primary = members[0]
        weights = np.array([spec.weights[m.name] for m in members], dtype=np.float64)
        bounds = np.cumsum(weights) / weights.sum()
        bounds[-1] = 1.0  # no rounding gap at the top
        self._bounds = bounds
        self._stats = stats

    def choose(self, keys: list[bytes]) -> npt.NDArray[np.intp]:
        """The member index for each key."""
        fractions = np.fromiter(map(stable_fraction, keys), dtype=np.float64, count=len(keys))
        return np.searchsorted(self._bounds, fractions, side="right")

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        n = len(batch.rows)
        chosen = self.choose(list(batch.keys()))
        shares = [np.flatnonzero(chosen == i).tolist() for i in range(len(self._members))]
        began = time.perf_counter()
        work = [
            run(member, batch.rows if len(share) == n else [batch.rows[j] for j in share])
            for member, share in zip(self._members, shares, strict=True)
            if len(share)
        ]
        scored = iter(await asyncio.gather(*work))
        self._stats.record_batch(n, (time.perf_counter() - began) * 1000.0)
        answerers: list[Answerer] = [self._members[0]] * n
        results: list[bytes | RecordError] = [b""] * n
        for member, share in zip(self._members, shares, strict=True):
            if not len(share):
                continue
            scores = next(scored)
            self._stats.record(member.name, len(share))
            for j, result in zip(share, scores.rows, strict=True):
                answerers[j] = member
                results[j] = result
        return Answers(answerers, results)
