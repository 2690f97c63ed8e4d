"""Scoring, with no Kafka in sight: decode a batch, group it by dataType, ask each group's
route which models run and how their results combine, make one call per model per batch, and
turn every record into exactly one outcome — a prediction or a dead letter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from service.errors import NoModelError, RecordError, ScoringError
from service.metrics import Metrics
from service.routing.registry import Registry
from service.routing.routes import Answers, Member, MemberScores, Route
from service.routing.serving import ServingModel
from service.runtimes.base import FloatMatrix
from service.scoring.features import build_features
from service.scoring.outcome import Outcome
from service.scoring.predictions import publishable_results
from service.scoring.records import DecodedGroup, SourceRecord, decode_batch

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, registry: Registry, metrics: Metrics, default_data_type: str | None) -> None:
        self._registry = registry
        self._metrics = metrics
        self._default_data_type = default_data_type

    def has_model(self, data_type: str) -> bool:
        return self._registry.route_for(data_type) is not None

    async def score(self, records: Sequence[SourceRecord]) -> list[Outcome]:
        """One outcome per record, in the records' order."""
        outcomes: list[Outcome | None] = [None] * len(records)
        groups, errors = decode_batch(records, self._default_data_type)
        for i, error in errors.items():
            outcomes[i] = Outcome(records[i], error=error)
        for data_type, group in groups.items():
            route = self._registry.route_for(data_type)
            if route is None:
                no_model = NoModelError(f"no model is serving dataType {data_type!r}", data_type)
                for i in group.positions:
                    outcomes[i] = Outcome(records[i], error=no_model)
                continue
            await self._score_group(route, data_type, group, records, outcomes)
        assert None not in outcomes
        return outcomes  # type: ignore[return-value]

    async def _score_group(
        self,
        route: Route,
        data_type: str,
        group: DecodedGroup,
        records: Sequence[SourceRecord],
        outcomes: list[Outcome | None],
    ) -> None:
        positions = group.positions
        primary = route.primary
        # Rows are bound to the primary's inputs: a record it cannot read is a dead letter,
        # whatever the other members could make of it.
        features, good, errors = build_features(group.fields, primary.binder)
        for j, error in errors.items():
            outcomes[positions[j]] = Outcome(records[positions[j]], error=error, model=primary)
        if not good:
            return
        scores = [MemberScores(route.members[0], await self._run(primary, data_type, features))]
        if len(route.members) > 1:
            rows = [group.fields[j] for j in good]
            for member in route.members[1:]:
                scores.append(MemberScores(member, await self._side(member, data_type, rows)))
        self._fill(route.combine(scores), good, group, records, outcomes, data_type)

    async def _side(
        self, member: Member, data_type: str, rows: list[dict[str, object]]
    ) -> list[bytes | RecordError]:
        """Another member on the same rows, bound to its own inputs; a row it cannot read is
        its error, not the record's."""
        features, good, errors = build_features(rows, member.serving.binder)
        results: list[bytes | RecordError] = [
            errors.get(k) or ScoringError("not scored") for k in range(len(rows))
        ]
        if good:
            scored = await self._run(member.serving, data_type, features)
            for k, result in zip(good, scored, strict=True):
                results[k] = result
        return results

    async def _run(
        self, serving: ServingModel, data_type: str, features: FloatMatrix
    ) -> list[bytes | RecordError]:
        serving.acquire()
        try:
            started = time.perf_counter()
            results = await self._predict(serving, features)
            elapsed = time.perf_counter() - started
        finally:
            serving.release()
        size = features.shape[0]
        serving.stats.record_batch(size, elapsed * 1000.0)
        self._metrics.record_batch(serving.name, serving.version, data_type, size, elapsed)
        return results

    @staticmethod
    def _fill(
        answers: Answers,
        good: list[int],
        group: DecodedGroup,
        records: Sequence[SourceRecord],
        outcomes: list[Outcome | None],
        data_type: str,
    ) -> None:
        scored_ms = int(time.time() * 1000)
        positions, ids = group.positions, group.ids
        rows = zip(good, answers.models, answers.results, strict=True)
        for j, model, row in rows:
            i = positions[j]
            if isinstance(row, bytes):
                outcomes[i] = Outcome(records[i], row, None, model, ids[j], data_type, scored_ms)
            else:
                outcomes[i] = Outcome(records[i], error=row, model=model)
        if answers.sides is not None:  # side results ride with their record's outcome
            for j, side in zip(good, answers.sides, strict=True):
                outcome = outcomes[positions[j]]
                assert outcome is not None
                outcome.side = side

    async def _predict(
        self, serving: ServingModel, features: FloatMatrix
    ) -> list[bytes | RecordError]:
        """One model call for the batch, in a worker thread (onnxruntime and the JVMs release
        the GIL). If the batch fails, each row is tried alone so that one poisonous record
        costs only its own dead letter. Rows whose answers fail the checks (NaN, missing, not
        summing to 1) are dead letters, never published."""
        runtime = serving.model.runtime
        try:
            result = await asyncio.to_thread(serving.model.predict, features)
            rows = publishable_results(result, runtime)
            if len(rows) != features.shape[0]:
                raise ValueError(f"{len(rows)} results for {features.shape[0]} rows")
            return rows
        except Exception as exc:
            if features.shape[0] == 1:
                return [ScoringError(f"{type(exc).__name__}: {exc}")]
            log.warning(
                "batch of %d failed on %s, isolating rows: %s",
                features.shape[0],
                serving.label,
                exc,
            )
        isolated: list[bytes | RecordError] = []
        for k in range(features.shape[0]):
            try:
                single = await asyncio.to_thread(serving.model.predict, features[k : k + 1])
                isolated.append(publishable_results(single, runtime)[0])
            except Exception as exc:
                isolated.append(ScoringError(f"{type(exc).__name__}: {exc}"))
        return isolated
