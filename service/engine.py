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

import orjson

from .errors import NoModelError, RecordError, ScoringError
from .metrics import Metrics
from .records import DecodedGroup, SourceRecord, build_features, decode_batch
from .registry import Registry, ServingModel
from .runtimes.base import FloatMatrix
from .runtimes.checks import publishable_rows

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What became of one input record: a result (a prediction; ``result_json`` is its
    ``result`` object as JSON, predictions.py builds the rest) or an ``error`` (a dead
    letter), never both."""

    record: SourceRecord
    result_json: bytes | None = None
    error: RecordError | None = None
    model: ServingModel | None = None
    record_id: str = ""
    data_type: str = ""
    scored_ms: int = 0

    @property
    def result(self) -> dict[str, Any] | None:
        """The result object (for HTTP answers and tests; the hot path keeps the bytes)."""
        return None if self.result_json is None else orjson.loads(self.result_json)


class Engine:
    def __init__(self, registry: Registry, metrics: Metrics, default_data_type: str | None) -> None:
        self._registry = registry
        self._metrics = metrics
        self._default_data_type = default_data_type

    def has_model(self, data_type: str) -> bool:
        return self._registry.serving_for(data_type) is not None

    async def score(self, records: Sequence[SourceRecord]) -> list[Outcome]:
        """One outcome per record, in the records' order."""
        outcomes: list[Outcome | None] = [None] * len(records)
        groups, errors = decode_batch(records, self._default_data_type)
        for i, error in errors.items():
            outcomes[i] = Outcome(records[i], error=error)
        for data_type, group in groups.items():
            serving = self._registry.serving_for(data_type)
            if serving is None:
                no_model = NoModelError(f"no model is serving dataType {data_type!r}", data_type)
                for i in group.positions:
                    outcomes[i] = Outcome(records[i], error=no_model)
                continue
            await self._score_group(serving, data_type, group, records, outcomes)
        assert None not in outcomes
        return outcomes  # type: ignore[return-value]

    async def _score_group(
        self,
        serving: ServingModel,
        data_type: str,
        group: DecodedGroup,
        records: Sequence[SourceRecord],
        outcomes: list[Outcome | None],
    ) -> None:
        positions = group.positions
        features, good, errors = build_features(group.fields, serving.binder)
        for j, error in errors.items():
            outcomes[positions[j]] = Outcome(records[positions[j]], error=error, model=serving)
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
        ids = group.ids
        for j, row in zip(good, rows, strict=True):
            i = positions[j]
            if isinstance(row, bytes):
                outcomes[i] = Outcome(records[i], row, None, serving, ids[j], data_type, scored_ms)
            else:
                outcomes[i] = Outcome(records[i], error=row, model=serving)

    async def _predict(
        self, serving: ServingModel, features: FloatMatrix
    ) -> list[bytes | RecordError]:
        """One model call for the batch, in a worker thread (onnxruntime and the py4j socket
        release the GIL). If the batch fails, each row is tried alone so that one poisonous
        record costs only its own dead letter."""
        runtime = serving.model.runtime
        try:
            result = await asyncio.to_thread(serving.model.predict, features)
            rows = publishable_rows(result, runtime)
            if len(rows) != features.shape[0]:
                raise ValueError(f"{len(rows)} results for {features.shape[0]} rows")
            # Rows whose answers fail the checks (NaN, missing, not summing to 1) are dead
            # letters, never published.
            return [row if isinstance(row, bytes) else ScoringError(row) for row in rows]
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
                row = publishable_rows(single, runtime)[0]
                isolated.append(row if isinstance(row, bytes) else ScoringError(row))
            except Exception as exc:
                isolated.append(ScoringError(f"{type(exc).__name__}: {exc}"))
        return isolated
