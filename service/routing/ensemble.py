"""Ensemble mode: every member scores every record and their answers combine into one.

- ``vote``: the majority label; a tie goes to the tied label of the member listed first. The
  probabilities are the members' mean (when all give them).
- ``mean``: the mean of the probabilities (the label their argmax) or of the values.

A record any member cannot answer is a dead letter with that member's error (its
``dlq.model`` names the member): an ensemble answers whole or not at all. The combination is
numpy over the batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import RecordError
from service.routing.columns import Columns, columns_of
from service.routing.route_spec import EnsembleSpec
from service.routing.route_stats import SplitStats
from service.runtimes.answers import publishable_results
from service.runtimes.base import BatchResult, RuntimeInfo, labels_from_indices
from service.serving.model import ServingModel
from service.serving.route import Answerer, Answers, RouteBatch, Runner


class EnsembleAnswerer:
    """What a prediction names as its model: ``{"name": "<dataType> ensemble", "members":
    [{name, version}, ...]}``; headers ``model-name`` and ``model-members`` (``a:1,b:2``)."""

    def __init__(self, data_type: str, members: Sequence[ServingModel]) -> None:
        self.name = f"{data_type} ensemble"
        versions = [{"name": m.name, "version": m.version} for m in members]
        self.model_json = orjson.dumps({"name": self.name, "members": versions})
        listed = ",".join(m.label for m in members)
        self.label = f"{self.name}({listed})"
        self.headers = (("model-name", self.name.encode()), ("model-members", listed.encode()))
        self.runtime = RuntimeInfo("ensemble", listed)


class EnsembleRoute:
    mode = "ensemble"

    def __init__(self, spec: EnsembleSpec, members: list[ServingModel], stats: SplitStats) -> None:
        self.data_type = spec.data_type
        self._members = self.members = tuple(members)
        self.primary = members[0]
        self._combine = spec.combine
        self._stats = stats
        self.answerer = EnsembleAnswerer(spec.data_type, members)

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        n = len(batch.rows)
        began = time.perf_counter()
        scores = await asyncio.gather(*(run(m, batch.rows) for m in self._members))
        results: list[bytes | RecordError] = [b""] * n
        columns = [columns_of(s) for s in scores]
        ok = np.logical_and.reduce([c.ok for c in columns])
        answerers: list[Answerer] = [self.answerer] * n
        for j in np.flatnonzero(~ok).tolist():  # the first failing member's error, by name
            failed = next(s for s in scores if not isinstance(s.rows[j], bytes))
            results[j] = failed.rows[j]
            answerers[j] = failed.serving
        rows = np.flatnonzero(ok)
        if len(rows):
            combined = publishable_results(self.combine(columns, rows), self.answerer.runtime)
            for j, result in zip(rows.tolist(), combined, strict=True):
                results[j] = result
        self._stats.record_batch(n, (time.perf_counter() - began) * 1000.0)
        for member in self._members:
            self._stats.record(member.name, len(rows))
        return Answers(answerers, results)

    def combine(self, columns: list[Columns], rows: npt.NDArray[np.intp]) -> BatchResult:
        """The ensemble's answer for ``rows`` (those every member answered)."""
        size = len(rows)
        if columns[0].values is not None:
            values = np.mean([c.values[rows] for c in columns if c.values is not None], axis=0)
            return BatchResult("regressor", size, values=values)
        with_probabilities = all(c.probabilities is not None for c in columns)
        classes = columns[0].classes if with_probabilities else None
        mean = None
        if classes is not None:
            mean = np.mean([c.aligned(classes)[rows] for c in columns], axis=0)
        if self._combine == "mean":
            assert mean is not None and classes is not None  # the route's check saw to it
            return BatchResult(
                "classifier", size, labels_from_indices(mean, classes), classes, mean
            )
        labels = _vote([[c.labels[j] for j in rows.tolist()] for c in columns if c.labels])
        return BatchResult("classifier", size, labels, classes, mean)


def _vote(votes: list[list[str]]) -> list[str]:
    """Per row, the label most members gave; among tied labels, the one given by the member
    listed first. ``votes`` is members × rows."""
    names = list(dict.fromkeys(label for member in votes for label in member))
    index = {name: i for i, name in enumerate(names)}
    ballots = np.array([[index[label] for label in member] for member in votes]).T  # rows × m
    rows = np.arange(ballots.shape[0])
    counts = np.zeros((ballots.shape[0], len(names)), dtype=np.int64)
    for m in range(ballots.shape[1]):
        np.add.at(counts, (rows, ballots[:, m]), 1)
    top = counts.max(axis=1)
    is_top = counts[rows[:, None], ballots] == top[:, None]  # rows × m: this member's label won
    winners = ballots[rows, is_top.argmax(axis=1)]  # the first member whose label is top
    return [names[w] for w in winners.tolist()]
