"""Scoring, with no Kafka in sight: decode a batch, route it by dataType, build one feature
matrix per model, make one model call per batch, and turn every record into exactly one
outcome — a prediction or a dead letter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import NoModelError, RecordError, ScoringError
from .metrics import Metrics
from .records import DecodedRecord, SourceRecord, build_features, decode_record
from .registry import Registry, ServingModel
from .runtimes.base import FloatMatrix

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What became of one input record: a ``result`` (a prediction; predictions.py renders
    it) or an ``error`` (a dead letter), never both."""

    record: SourceRecord
    result: dict[str, Any] | None = None
    error: RecordError | None = None
    model: ServingModel | None = None
    record_id: str = ""
    data_type: str = ""
    scored_ms: int = 0


class Engine:
    def __init__(self, registry: Registry, metrics: Metrics, default_data_type: str | None) -> None:
        self._registry = registry
        self._metrics = metrics
        self._default_data_type = default_data_type

    def has_model(self, data_type: str) -> bool:
        return self._registry.serving_for(data_type) is not None

    async def score(self, records: Sequence[SourceRecord]) -> list[Outcome]:
        outcomes = [Outcome(record) for record in records]
        groups: dict[str, list[tuple[int, DecodedRecord]]] = {}
        for i, record in enumerate(records):
            try:
                decoded = decode_record(record, self._default_data_type)
            except RecordError as exc:
                outcomes[i].error = exc
                continue
            groups.setdefault(decoded.data_type, []).append((i, decoded))
        for data_type, members in groups.items():
            serving = self._registry.serving_for(data_type)
            if serving is None:
                error = NoModelError(f"no model is serving dataType {data_type!r}", data_type)
                for i, _ in members:
                    outcomes[i].error = error
                continue
            await self._score_group(serving, data_type, members, outcomes)
        return outcomes

    async def _score_group(
        self,
        serving: ServingModel,
        data_type: str,
        members: list[tuple[int, DecodedRecord]],
        outcomes: list[Outcome],
    ) -> None:
        features, good, errors = build_features([d.fields for _, d in members], serving.binder)
        for j, error in errors.items():
            outcomes[members[j][0]].error = error
            outcomes[members[j][0]].model = serving
        if not good:
            return
        serving.acquire()
        try:
            started = time.perf_counter()
            rows = await self._predict(serving, features)
            elapsed = time.perf_counter() - started
        finally:
            serving.release()
        serving.stats.record_batch(len(good), elapsed * 1000.0)
        self._metrics.record_batch(serving.name, serving.version, data_type, len(good), elapsed)
        scored_ms = int(time.time() * 1000)
        for j, row in zip(good, rows, strict=True):
            index, decoded = members[j]
            outcome = outcomes[index]
            outcome.model = serving
            if isinstance(row, RecordError):
                outcome.error = row
            else:
                outcome.result = row
                outcome.record_id = decoded.record_id
                outcome.data_type = data_type
                outcome.scored_ms = scored_ms

    async def _predict(
        self, serving: ServingModel, features: FloatMatrix
    ) -> list[dict[str, Any] | RecordError]:
        """One model call for the batch, in a worker thread (onnxruntime and the py4j socket
        release the GIL). If the batch fails, each row is tried alone so that one poisonous
        record costs only its own dead letter."""
        try:
            result = await asyncio.to_thread(serving.model.predict, features)
            return list(result.rows())
        except Exception as exc:
            if features.shape[0] == 1:
                return [ScoringError(f"{type(exc).__name__}: {exc}")]
            log.warning(
                "batch of %d failed on %s, isolating rows: %s",
                features.shape[0],
                serving.label,
                exc,
            )
        rows: list[dict[str, Any] | RecordError] = []
        for k in range(features.shape[0]):
            try:
                single = await asyncio.to_thread(serving.model.predict, features[k : k + 1])
                rows.append(single.rows()[0])
            except Exception as exc:
                rows.append(ScoringError(f"{type(exc).__name__}: {exc}"))
        return rows
