"""The data loop through the seam, on the in-memory Kafka: no broker, the real engine, writer
and committer. Every record ends as exactly one output, in a batch whose offsets are committed
only after its outputs were acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest

from service.errors import ModelUnavailableError
from service.inputs.schema import InputSchema, TypedBatch
from service.kafka.commits import DeliveryError
from service.kafka.data import DataLoop
from service.kafka.oip_inference import KafkaInference
from service.kafka.seams import TopicPartition
from service.metrics import Metrics
from service.oip.inference import Inference
from service.routing.registry import Registry
from service.runtimes.base import BatchResult, RuntimeInfo
from service.scoring.batching import BatchPolicy
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor

from .fake import FakeConsumer, FakeLog, FakeProducer

T0, T1 = TopicPartition("in", 0), TopicPartition("in", 1)
OIP = TopicPartition("oip-in", 0)  # the Open Inference Protocol's requests


class SumModel:
    input_schema = InputSchema.numeric(["x"])
    runtime = RuntimeInfo("sum", "1")

    def predict(self, batch: TypedBatch) -> BatchResult:
        return BatchResult("regressor", batch.size, values=batch.matrix().sum(axis=1))

    def close(self) -> None:
        pass


def install(registry: Registry, data_type: str) -> None:
    descriptor = ModelDescriptor.model_validate(
        {
            "name": f"m-{data_type}",
            "version": 1,
            "dataType": data_type,
            "modelType": "ONNX",
            "data": "AA==",
        }
    )
    registry.install(descriptor, SumModel(), "0" * 64)


class Rig:
    def __init__(
        self, wait_for_models: bool = False, remote_give_up_s: float | None = None
    ) -> None:
        self.log = FakeLog()
        self.consumer = FakeConsumer(self.log, [T0, T1, OIP])
        self.producer = FakeProducer()
        self.registry = Registry()
        engine = Engine(self.registry, Metrics(), None)
        inference = Inference(
            self.registry, engine, Metrics(), 100, lambda: True, lambda: True, "t"
        )
        self.loop = DataLoop(
            self.consumer,
            self.producer,
            engine,
            BatchPolicy(100, 1000),
            Metrics(),
            ["in"],
            "out",
            "dlq",
            wait_for_models=wait_for_models,
            commit_interval_ms=0,
            requests=KafkaInference(inference, Metrics(), OIP.topic, "oip-out", 64),
            remote_give_up_s=remote_give_up_s,
        )

    def add(self, tp: TopicPartition, data_type: str, x: float) -> None:
        key = f"{tp.partition}-{len(self.log.partitions.get(tp, []))}".encode()
        self.log.append(tp, key, orjson.dumps({"dataType": data_type, "x": x}))

    def add_request(self, model: str, x: float) -> None:
        key = f"req-{len(self.log.partitions.get(OIP, []))}".encode()
        tensor = {"name": "x", "datatype": "FP64", "shape": [1], "data": [x]}
        value = orjson.dumps({"inputs": [tensor]})
        self.log.append(OIP, key, value, [("mlserver-model", model.encode())])

    def keys(self, topic: str) -> list[str]:
        return [r.key.decode() for r in self.producer.sent.get(topic, []) if r.key is not None]


async def until(condition: Callable[[], bool], steps: int = 2000) -> None:
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not met")


async def test_a_rebalance_mid_fetch_rewinds_the_batch_no_loss_no_duplicate() -> None:
    rig = Rig()
    install(rig.registry, "d")
    for tp in (T0, T1):
        for x in range(4):
            rig.add(tp, "d", x)
    await rig.loop.start()
    # The batch's first fetch takes all eight records; its second fetch (collecting more)
    # meets a rebalance that leaves this member only partition 0.
    rig.consumer.at_fetch(2, lambda: rig.consumer.rebalance([T0]))
    await rig.loop.step()  # fetched across the rebalance: nothing is scored, T0 is rewound
    assert rig.keys("out") == []
    await rig.loop.step()
    await rig.loop.step()
    assert sorted(rig.keys("out")) == ["0-0", "0-1", "0-2", "0-3"]  # once each, T1 not here


async def test_partitions_pause_under_the_wait_policy_and_resume_when_the_model_comes() -> None:
    rig = Rig(wait_for_models=True)
    install(rig.registry, "a")
    rig.add(T0, "a", 1)
    rig.add(T0, "b", 2)  # no model for b yet: partition 0 waits here
    rig.add(T0, "a", 3)
    rig.add(T1, "a", 4)
    rig.add(T1, "a", 5)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed == {T0: 1, T1: 2})
    assert sorted(rig.keys("out")) == ["0-0", "1-0", "1-1"]
    assert rig.consumer.paused() == {T0} and rig.keys("dlq") == []
    install(rig.registry, "b")
    await until(lambda: rig.consumer.committed.get(T0) == 3)
    assert sorted(rig.keys("out")) == ["0-0", "0-1", "0-2", "1-0", "1-1"]
    assert rig.consumer.paused() == set()
    rig.loop.request_stop()
    await running


async def test_a_failed_acknowledgement_is_never_committed_past() -> None:
    rig = Rig()
    install(rig.registry, "d")
    rig.add(T0, "d", 1)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed == {T0: 1})
    rig.producer.fail_next = OSError("broker gone")
    rig.add(T0, "d", 2)
    with pytest.raises(ExceptionGroup) as caught:
        await running
    assert caught.group_contains(DeliveryError, match="broker gone")
    assert rig.consumer.committed == {T0: 1}
    assert rig.consumer.commits == [{T0: 1}]


async def test_every_record_ends_as_one_output_and_dead_letters_are_committed_too() -> None:
    rig = Rig()
    install(rig.registry, "d")
    for x in range(10):
        rig.add(T0 if x % 2 else T1, "d" if x % 3 else "nobody", x)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed == {T0: 5, T1: 5})
    rig.loop.request_stop()
    await running
    outputs = rig.keys("out") + rig.keys("dlq")
    assert sorted(outputs) == sorted(f"{p}-{i}" for p in (0, 1) for i in range(5))
    assert len(rig.keys("dlq")) == 4  # x = 0, 3, 6, 9: no model for "nobody"


async def test_requests_and_records_of_one_batch_share_its_commit_after_both_are_acknowledged() -> (
    None
):
    rig = Rig()
    install(rig.registry, "d")
    rig.add(T0, "d", 1)
    rig.add_request("m-d", 2.0)
    rig.add_request("nobody", 3.0)
    rig.add_request("m-d", 4.0)
    rig.producer.hold_acks = True
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: len(rig.producer.pending) >= 3)  # predictions, answers, dead letters
    assert rig.consumer.committed == {}  # nothing before the broker has every output
    assert rig.keys("out") == ["0-0"]
    assert sorted(rig.keys("oip-out")) == ["req-0", "req-2"]
    assert rig.keys("dlq") == ["req-1"]
    rig.producer.hold_acks = False
    for ack in rig.producer.pending:
        ack.set_result(None)
    await until(lambda: rig.consumer.committed == {T0: 1, OIP: 3})
    rig.loop.request_stop()
    await running
    answers = [orjson.loads(r.value or b"") for r in rig.producer.sent["oip-out"]]
    assert sorted(a["outputs"][0]["data"][0] for a in answers) == [2.0, 4.0]


class FlakyServer:
    """A remote model's stand-in: its server does not answer the first ``failures`` calls."""

    input_schema = InputSchema.numeric(["x"])
    runtime = RuntimeInfo("remote", "test")

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def predict(self, batch: TypedBatch) -> BatchResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise ModelUnavailableError("connection refused", retry_after_s=0.005)
        return BatchResult("regressor", batch.size, values=batch.matrix().sum(axis=1))

    def close(self) -> None:
        pass


async def test_records_whose_server_does_not_answer_wait_in_order_and_none_is_lost() -> None:
    rig = Rig()  # NO_MODEL_POLICY=dlq: holding for a server is not that policy
    install(rig.registry, "a")
    server = FlakyServer(failures=3)
    descriptor = ModelDescriptor.model_validate(
        {"name": "far", "version": 1, "dataType": "r", "modelType": "ONNX", "data": "AA=="}
    )
    rig.registry.install(descriptor, server, "0" * 64)
    rig.add(T0, "a", 1)
    for x in range(2, 6):
        rig.add(T0, "r", x)  # partition 0 holds at the first of these while the server is out
    rig.add(T1, "a", 7)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed.get(T0) == 5)
    assert rig.keys("dlq") == []
    assert rig.keys("out") == ["0-0", "1-0", "0-1", "0-2", "0-3", "0-4"]
    values = [orjson.loads(r.value or b"")["result"]["value"] for r in rig.producer.sent["out"]]
    assert values == [1.0, 7.0, 2.0, 3.0, 4.0, 5.0]
    # Never tried row by row: the batch waited, then one call answered it.
    assert server.calls == 4
    rig.loop.request_stop()
    await running


async def test_past_the_give_up_bound_every_waiting_record_is_a_dead_letter_saying_so() -> None:
    """A server that never comes back, with MODELSERVE_REMOTE_GIVE_UP_S set: the partition
    waits out the bound once, then its records go out as dead letters, all of them (not one
    per bound), and the records of other dataTypes behind them are answered."""
    rig = Rig(remote_give_up_s=0.05)
    install(rig.registry, "a")
    server = FlakyServer(failures=10**9)
    descriptor = ModelDescriptor.model_validate(
        {"name": "far", "version": 1, "dataType": "r", "modelType": "ONNX", "data": "AA=="}
    )
    rig.registry.install(descriptor, server, "0" * 64)
    for x in range(6):
        rig.add(T0, "r", x)
    rig.add(T0, "a", 9)
    await rig.loop.start()
    running = asyncio.create_task(rig.loop.run())
    await until(lambda: rig.consumer.committed.get(T0) == 7, steps=20_000)
    # Spread over the dead-letter topic's partitions by key: compared as a set.
    assert sorted(rig.keys("dlq")) == [f"0-{i}" for i in range(6)]
    assert rig.keys("out") == ["0-6"]
    reasons = {dict(r.headers)["dlq.reason"] for r in rig.producer.sent["dlq"]}
    assert reasons == {b"model-unavailable"}
    # All at once, past the bound: never one record per bound (commits 1, 2, ... 6).
    assert {c[T0] for c in rig.consumer.commits if T0 in c} <= {0, 7}
    rig.loop.request_stop()
    await running
