"""Failure paths with no broker needed: a model that fails on some rows, and an output the
broker never acknowledges."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from service.batching import BatchPolicy
from service.descriptor import ModelDescriptor
from service.engine import Engine
from service.errors import ScoringError
from service.kafka.data import DataLoop, DeliveryError, InFlight
from service.metrics import Metrics
from service.records import LocalRecord
from service.registry import Registry
from service.runtimes.base import BatchResult, FloatMatrix, RuntimeInfo


class PoisonedModel:
    """Scores the sum of a row, but fails any call that contains a negative value."""

    input_names = ("a", "b")
    runtime = RuntimeInfo("poisoned", "1")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, features: FloatMatrix) -> BatchResult:
        self.calls.append(len(features))
        if (features < 0).any():
            raise ValueError("negative input")
        return BatchResult("regressor", len(features), values=features.sum(axis=1))

    def close(self) -> None:
        pass


async def test_a_poisonous_record_costs_only_its_own_dead_letter() -> None:
    registry, model = Registry(), PoisonedModel()
    descriptor = ModelDescriptor.model_validate(
        {"name": "p", "version": 1, "dataType": "d", "modelType": "ONNX", "data": "AA=="}
    )
    registry.install(descriptor, model, "0" * 64)
    rows = [{"a": 1, "b": 2}, {"a": -1, "b": 2}, {"a": 3, "b": 4}]
    records = [
        LocalRecord(orjson.dumps({"dataType": "d", **r}), topic="t", partition=0, offset=i)
        for i, r in enumerate(rows)
    ]
    outcomes = await Engine(registry, Metrics(), None).score(records)
    assert [o.result for o in outcomes] == [{"value": 3.0}, None, {"value": 7.0}]
    assert isinstance(outcomes[1].error, ScoringError) and "negative input" in str(
        outcomes[1].error
    )
    assert outcomes[1].model is not None and outcomes[1].model.label == "p:1"
    assert model.calls == [3, 1, 1, 1]  # the batch once, then each row alone


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, OffsetAndMetadata]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", 0), TopicPartition("t", 1)}

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append(dict(offsets))


def settled(error: BaseException | None = None) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
    return future


async def test_nothing_is_committed_past_an_unacknowledged_output() -> None:
    consumer = RecordingConsumer()
    loop = DataLoop(
        consumer,
        object(),
        object(),
        BatchPolicy(10, 0),
        Metrics(),  # type: ignore[arg-type]
        ["t"],
        "out",
        "dlq",
        commit_interval_ms=0,
    )
    first = {TopicPartition("t", 0): OffsetAndMetadata(5, "")}
    second = {
        TopicPartition("t", 0): OffsetAndMetadata(9, ""),
        TopicPartition("t", 1): OffsetAndMetadata(3, ""),
    }
    third = {TopicPartition("t", 1): OffsetAndMetadata(7, "")}
    await loop._in_flight.put(InFlight([settled()], first))
    await loop._in_flight.put(InFlight([settled(), settled(OSError("broker gone"))], second))
    await loop._in_flight.put(InFlight([settled()], third))
    with pytest.raises(DeliveryError, match="broker gone"):
        await loop._commit_in_order()
    assert consumer.commits == [first]  # neither the failed batch nor the one after it
    sample = loop.metrics.registry.get_sample_value
    assert sample("modelserve_produce_errors_total") == 1.0
    assert sample("modelserve_offset_commits_total", {"outcome": "ok"}) == 1.0
