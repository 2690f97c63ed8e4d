"""Requests for one model batched like the stream: those that arrive while the model scores
are scored together next, up to a cap in rows; a row without an answer fails only its own
request; a client that left is not scored."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from service.errors import InvalidRecordError, RecordError
from service.inputs.schema import InputSchema, TypedBatch
from service.oip.batching import RequestBatcher
from service.oip.messages import OipError
from service.runtimes.base import BatchResult, RuntimeInfo
from service.serving.descriptor import ModelDescriptor
from service.serving.model import ServingModel
from service.serving.route import MemberScores

SCHEMA = InputSchema.numeric(["x"])


class Doubling:
    """A regressor answering 2x; a row of x < 0 it cannot answer."""

    runtime = RuntimeInfo("test", "0")
    input_schema = SCHEMA

    def predict(self, batch: TypedBatch) -> BatchResult:
        return BatchResult("regressor", batch.size, values=batch.matrix()[:, 0] * 2)

    def close(self) -> None:
        pass


def serving() -> ServingModel:
    descriptor = ModelDescriptor.model_validate(
        {"name": "d", "version": 1, "dataType": "d", "modelType": "ONNX", "data": b"x"}
    )
    return ServingModel(descriptor, Doubling(), "0" * 64)


class Scorer:
    """Counts calls and their sizes; the first call waits for ``release`` so that requests
    pile up behind it."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = asyncio.Event()

    async def __call__(self, model: ServingModel, batch: TypedBatch) -> MemberScores:
        self.calls.append(batch.size)
        if len(self.calls) == 1:
            await self.release.wait()
        x = batch.matrix()[:, 0]
        rows: list[bytes | RecordError] = [
            b"{}" if v >= 0 else InvalidRecordError(f"x={v} is negative") for v in x
        ]
        good = [i for i, v in enumerate(x) if v >= 0]
        result = model.model.predict(batch.take(good))
        return MemberScores(model, rows, result, good)


def values(answer: BatchResult | BaseException) -> list[float]:
    assert isinstance(answer, BatchResult) and answer.values is not None
    return [float(v) for v in answer.values]


def rows(*values: float) -> TypedBatch:
    return TypedBatch.of_matrix(SCHEMA, np.array(values).reshape(-1, 1))


async def test_requests_waiting_behind_a_call_are_scored_together() -> None:
    scorer, model = Scorer(), serving()
    batcher = RequestBatcher(scorer, max_rows=100)
    first = asyncio.create_task(batcher.answer(model, rows(1)))
    await asyncio.sleep(0)  # the first call starts and holds the model
    later = [asyncio.create_task(batcher.answer(model, rows(i, i + 0.5))) for i in range(10)]
    await asyncio.sleep(0)
    scorer.release.set()
    answers = await asyncio.gather(first, *later)
    assert scorer.calls == [1, 20]
    assert values(answers[0]) == [2.0]
    for i, answer in enumerate(answers[1:]):
        assert values(answer) == [2.0 * i, 2.0 * i + 1.0]


async def test_the_cap_splits_what_waits_into_calls() -> None:
    scorer, model = Scorer(), serving()
    scorer.release.set()
    batcher = RequestBatcher(scorer, max_rows=4)
    answers = await asyncio.gather(*(batcher.answer(model, rows(i, i)) for i in range(5)))
    # All five wait before the first call: two requests of 2 rows a call, in their order.
    assert scorer.calls == [4, 4, 2]
    assert [values(a) for a in answers] == [[2.0 * i] * 2 for i in range(5)]


async def test_a_row_without_an_answer_fails_only_its_request() -> None:
    scorer, model = Scorer(), serving()
    scorer.release.set()
    batcher = RequestBatcher(scorer, max_rows=100)
    outcomes = await asyncio.gather(
        batcher.answer(model, rows(1, 2)),
        batcher.answer(model, rows(3, -1)),
        batcher.answer(model, rows(5)),
        return_exceptions=True,
    )
    assert values(outcomes[0]) == [2.0, 4.0]
    assert isinstance(outcomes[1], OipError) and outcomes[1].status == 400
    assert "row 1" in outcomes[1].message and "negative" in outcomes[1].message
    assert values(outcomes[2]) == [10.0]


async def test_a_failing_call_fails_its_requests_not_the_batcher() -> None:
    model = serving()
    calls = 0

    async def broken(m: ServingModel, batch: TypedBatch) -> MemberScores:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return MemberScores(m, [b"{}"] * batch.size, m.model.predict(batch))

    batcher = RequestBatcher(broken, max_rows=10)
    with pytest.raises(OipError) as failed:
        await batcher.answer(model, rows(1))
    assert failed.value.status == 500 and "RuntimeError" in failed.value.message
    assert values(await batcher.answer(model, rows(2))) == [4.0]


async def test_a_request_whose_client_left_is_not_scored() -> None:
    scorer, model = Scorer(), serving()
    batcher = RequestBatcher(scorer, max_rows=100)
    first = asyncio.create_task(batcher.answer(model, rows(1)))
    await asyncio.sleep(0)
    gone = asyncio.create_task(batcher.answer(model, rows(7, 7, 7)))
    stays = asyncio.create_task(batcher.answer(model, rows(2)))
    await asyncio.sleep(0)
    gone.cancel()
    scorer.release.set()
    await first
    assert values(await stays) == [4.0]
    assert scorer.calls == [1, 1]
