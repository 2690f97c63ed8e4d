"""Scoring, with no Kafka in sight: decode a batch, group it by dataType, hand each group to
its route with a runner (one model call per model per batch), and turn every record into
exactly one outcome — a prediction or a dead letter — plus the side answers (a shadow's) that
come after."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.errors import (
    InvalidRecordError,
    ModelUnavailableError,
    NoModelError,
    RecordError,
    ScoringError,
)
from service.inputs.conversion import build_batch
from service.inputs.schema import TypedBatch
from service.metrics import Metrics
from service.runtimes.answers import publishable_results
from service.runtimes.base import BatchResult, concatenated
from service.scoring import model_calls
from service.scoring.outcome import Outcome, SideOutcome, side_outcomes
from service.scoring.records import (
    DecodedGroup,
    LocalRecord,
    SourceRecord,
    decode_batch,
    own_id,
    source_of,
)
from service.serving.model import ServingModel
from service.serving.route import Answers, MemberScores, RouteBatch, RouteTable
from service.untrusted import DEFAULT_MAX_JSON_DEPTH

log = logging.getLogger(__name__)


@dataclass
class ScoredBatch:
    """One outcome per record, in the records' order; and, per route with shadows, a future of
    their answers (which the output stage writes once they are in)."""

    outcomes: list[Outcome]
    sides: list[asyncio.Future[list[SideOutcome]]] = field(default_factory=list)
    # Some records wait for a model's server that did not answer (the caller holds them).
    unavailable: bool = False


class Engine:
    def __init__(
        self,
        routes: RouteTable,
        metrics: Metrics,
        default_data_type: str | None,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        self._routes = routes  # the registry: the composition root gives it
        self._metrics = metrics
        self._default_data_type = default_data_type
        self._max_json_depth = max_json_depth

    def has_model(self, data_type: str) -> bool:
        return self._routes.route_for(data_type) is not None

    async def score(self, records: Sequence[SourceRecord]) -> list[Outcome]:
        """Request-reply on records as bytes: each record's outcome, as its route answers it
        (shadows watch the stream only)."""
        groups, errors = decode_batch(records, self._default_data_type, self._max_json_depth)
        return (await self._score(records, groups, errors, shadows=False)).outcomes

    async def score_request(self, data_type: str, items: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Request-reply on records already decoded by the edge that took them (``POST
        /predict``): scored as they are, never encoded again to be decoded here. A request has
        no key or offset: a record's id is its own ``id``, else ``/-1/-1``."""
        records = [LocalRecord(None) for _ in items]
        group = DecodedGroup()
        errors: dict[int, RecordError] = {}
        for i, (item, record) in enumerate(zip(items, records, strict=True)):
            try:
                record_id = own_id(item)
            except InvalidRecordError as exc:
                errors[i] = exc
                continue
            group.positions.append(i)
            group.fields.append(item)
            group.ids.append(record_id if record_id is not None else source_of(record))
        groups = {data_type: group} if group.positions else {}
        return (await self._score(records, groups, errors, shadows=False)).outcomes

    async def score_stream(self, records: Sequence[SourceRecord]) -> ScoredBatch:
        """A batch from the data topics: outcomes, and the shadows' answers to come."""
        groups, errors = decode_batch(records, self._default_data_type, self._max_json_depth)
        return await self._score(records, groups, errors, shadows=True)

    async def _score(
        self,
        records: Sequence[SourceRecord],
        groups: dict[str, DecodedGroup],
        errors: dict[int, RecordError],
        shadows: bool,
    ) -> ScoredBatch:
        outcomes: list[Outcome | None] = [None] * len(records)
        for i, error in errors.items():
            outcomes[i] = Outcome(records[i], error=error)
        scored = ScoredBatch([])
        for data_type, group in groups.items():
            route = self._routes.route_for(data_type)
            if route is None:
                no_model = NoModelError(f"no model is serving dataType {data_type!r}", data_type)
                for i in group.positions:
                    outcomes[i] = Outcome(records[i], error=no_model)
                continue
            batch = RouteBatch(data_type, group.fields, _keys(group, records), shadows)
            try:
                answers = await route.answer(batch, _Runner(self, data_type))
            except ModelUnavailableError as exc:
                # The model's server does not answer: not these records' fault. They wait
                # (scoring/wait_for_model.py), never dead letters.
                waiting = ModelUnavailableError(str(exc), exc.retry_after_s, data_type)
                for i in group.positions:
                    outcomes[i] = Outcome(records[i], error=waiting, model=route.primary)
                scored.unavailable = True
                continue
            except Exception as exc:
                # A bug that one group's records reach must cost those records (dead letters
                # that say so), never the loop that serves every dataType.
                log.exception("scoring a batch of dataType %r failed", data_type)
                failed = ScoringError(f"the service could not score it: {type(exc).__name__}")
                for i in group.positions:
                    outcomes[i] = Outcome(records[i], error=failed, model=route.primary)
                continue
            self._metrics.record_answered(self._fill(answers, group, records, outcomes, data_type))
            for after in answers.after:
                scored.sides.append(
                    asyncio.ensure_future(side_outcomes(after, group, records, data_type))
                )
        assert None not in outcomes
        scored.outcomes = outcomes  # type: ignore[assignment]
        return scored

    async def run(
        self, serving: ServingModel, rows: Sequence[dict[str, Any]], data_type: str
    ) -> MemberScores:
        """The rows scored by one model, bound to its inputs and typed to its schema: a row it
        cannot read is that row's error. One model call for the rows that bind."""
        n = len(rows)
        batch, good, errors = build_batch(rows, serving.binder, serving.model.input_schema)
        if not good:
            return MemberScores(serving, [errors[k] for k in range(n)])
        scores = await self.score_batch(serving, batch, data_type)
        if len(good) == n:
            return scores
        rows_out: list[bytes | RecordError] = [ScoringError("not scored")] * n
        for k, error in errors.items():
            rows_out[k] = error
        for k, answer in zip(good, scores.rows, strict=True):
            rows_out[k] = answer
        answered = scores.scored if scores.scored is not None else range(len(good))
        scored = [good[k] for k in answered]
        return MemberScores(serving, rows_out, scores.result, scored, scores.elapsed_ms)

    async def score_batch(
        self, serving: ServingModel, batch: TypedBatch, data_type: str
    ) -> MemberScores:
        """The one core call under every transport: a batch typed to the model's schema →
        each row's answer (or why not), and the answer as columns. The model is held while it
        scores (a displaced version closes after), its serving stats and metrics counted."""
        serving.acquire()
        try:
            started = time.perf_counter()
            results, result, answered = await self._predict(serving, batch)
            elapsed = time.perf_counter() - started
            # Counted before the model is let go: a displaced version's series are dropped
            # when its last batch lets go, and must not come back after.
            serving.stats.record_batch(batch.size, elapsed * 1000.0)
            self._metrics.record_batch(
                serving.name, serving.version, data_type, batch.size, elapsed
            )
        finally:
            serving.release()
        return MemberScores(serving, results, result, answered, elapsed * 1000.0)

    @staticmethod
    def _fill(
        answers: Answers,
        group: DecodedGroup,
        records: Sequence[SourceRecord],
        outcomes: list[Outcome | None],
        data_type: str,
    ) -> int:
        """The group's outcomes; returns how many are predictions."""
        scored_ms = int(time.time() * 1000)
        positions, ids = group.positions, group.ids
        rows = zip(positions, ids, answers.answerers, answers.results, strict=True)
        failed = 0
        for i, record_id, model, row in rows:
            if isinstance(row, bytes):
                outcomes[i] = Outcome(records[i], row, None, model, record_id, data_type, scored_ms)
            else:
                outcomes[i] = Outcome(records[i], error=row, model=model)
                failed += 1
        return len(positions) - failed

    async def _predict(
        self, serving: ServingModel, batch: TypedBatch
    ) -> tuple[list[bytes | RecordError], BatchResult | None, list[int] | None]:
        """One model call for the batch, in a worker thread (onnxruntime and the JVMs release
        the GIL). If the batch fails, each row is tried alone so that one poisonous record
        costs only its own dead letter. Rows whose answers fail the checks (NaN, missing, not
        summing to 1) are dead letters, never published. Returns each row's answer, the batch
        answer as columns (what routes compare and combine) and which rows of the batch it
        holds (None: all)."""
        runtime = serving.model.runtime
        try:
            result = await model_calls.predict(serving, batch)
            rows = publishable_results(result, runtime)
            if len(rows) != batch.size:
                raise ValueError(f"{len(rows)} results for {batch.size} rows")
            return rows, result, None
        except ModelUnavailableError:
            raise  # the server's trouble, not the rows': no row is tried alone
        except Exception as exc:
            if batch.size == 1:
                return [ScoringError(f"{type(exc).__name__}: {exc}")], None, []
            log.warning(
                "batch of %d failed on %s, isolating rows: %s", batch.size, serving.label, exc
            )
        isolated: list[bytes | RecordError] = []
        answers: list[BatchResult] = []
        answered: list[int] = []
        for k in range(batch.size):
            try:
                single = await model_calls.predict(serving, batch.take([k]))
                isolated.append(publishable_results(single, runtime)[0])
            except ModelUnavailableError:
                raise
            except Exception as exc:
                isolated.append(ScoringError(f"{type(exc).__name__}: {exc}"))
            else:
                answers.append(single)
                answered.append(k)
        together = concatenated(answers)
        if together is None and answers:
            # Rows of one model answered in different kinds make no columns together: none
            # of them is published (a route could not compare or combine them).
            mixed = ScoringError(f"{serving.label} answered rows of one batch in different kinds")
            return [mixed] * batch.size, None, []
        return isolated, together, answered


class _Runner:
    """The engine's ``run`` for one dataType: what a route is given to score rows with."""

    __slots__ = ("_data_type", "_engine")

    def __init__(self, engine: Engine, data_type: str) -> None:
        self._engine = engine
        self._data_type = data_type

    def __call__(
        self, serving: ServingModel, rows: Sequence[dict[str, Any]]
    ) -> Coroutine[Any, Any, MemberScores]:
        return self._engine.run(serving, rows, self._data_type)


def _keys(group: DecodedGroup, records: Sequence[SourceRecord]) -> Callable[[], list[bytes]]:
    """Each row's routing key, computed only if a route asks: the record's key, else its id."""

    def keys() -> list[bytes]:
        return [
            records[i].key or record_id.encode()
            for i, record_id in zip(group.positions, group.ids, strict=True)
        ]

    return keys
