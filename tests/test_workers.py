"""MODELSERVE_WORKERS=2: two scoring processes in one group share the partitions behind the
container's one HTTP port, whose answers are the sums over the workers (each worker's own
figures listed beside them); /predict is served by the workers; SIGTERM to the supervisor
stops both gracefully, and a supervisor killed outright takes its workers with it. The one
gRPC port is bound by each worker (SO_REUSEPORT), never by the supervisor, and the kernel
gives connections to both."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.proto import open_inference_grpc_pb2 as pb
from service.proto.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub
from service.settings import Settings
from service.tools.devbroker import free_port
from service.tools.publishing import build_descriptor, publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import isolated_settings, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import until


def supervisor_env(s: Settings, port: int, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSERVE_")}
    values = {
        "bootstrap_servers": s.bootstrap_servers,
        "control_topic": s.control_topic,
        "data_topics": s.data_topics[0],
        "output_topic": s.output_topic,
        "dlq_topic": s.dlq_topic,
        "events_topic": s.events_topic,
        "stats_topic": s.stats_topic,
        "group_id": s.group_id,
        "http_host": "127.0.0.1",
        "http_port": port,
        "grpc_port": 0,
        "workers": 2,
        "topic_partitions": 4,
        "log_level": "WARNING",
        **extra,
    }
    env.update({f"MODELSERVE_{k.upper()}": str(v) for k, v in values.items()})
    return env


async def ready(client: httpx.AsyncClient, timeout_s: float = 90) -> dict[str, Any]:
    for _ in range(int(timeout_s * 10)):
        try:
            answer = await client.get("/health/ready")
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the supervisor's port never answered ready")


def scored_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "modelserve_records_scored_total"
    )


async def test_one_port_answers_for_both_workers(bootstrap: str, model_files: ModelFiles) -> None:
    s = isolated_settings(bootstrap, topic_partitions=4)
    port = free_port()
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", env=supervisor_env(s, port)
    )
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        health = await ready(client)
        assert [w["worker"] for w in health["workers"]] == [0, 1]
        descriptor = build_descriptor(
            model_files.forest_onnx, "w", "wine", inputs=list(WINE_FIELDS)
        )
        offset = await publish(s, descriptor)
        assert (await wait_for_event(s, "w", offset, timeout_s=60) or {}).get("status") == "loaded"
        for _ in range(600):  # the event is the first worker's: each replays the control topic
            state = (await client.get("/state/wine")).json()
            if [w.get("name") for w in state.get("workers", [])] == ["w", "w"]:
                break
            await asyncio.sleep(0.1)
        rows = [
            (f"k{i}", {"dataType": "wine", **dict(zip(WINE_FIELDS, map(float, r), strict=True))})
            for i, r in enumerate(model_files.features[:400])
        ]
        await produce_json(bootstrap, s.data_topics[0], rows)
        out = await read_until(bootstrap, s.output_topic, lambda r: len({x.key for x in r}) >= 400)
        assert {r.key.decode() for r in out} == {k for k, _ in rows}

        stats = (await client.get("/stats")).json()
        workers = stats["workers"]
        assert [w["worker"] for w in workers] == [0, 1]
        assert all(w["consumed"] > 0 for w in workers), workers  # both hold partitions
        for key in ("consumed", "scored", "dlq", "batches", "batchedRecords"):
            assert stats[key] == sum(w[key] for w in workers), key
        assert stats["scored"] == 400

        state = (await client.get("/state/wine")).json()
        assert state["usage"] == sum(w["usage"] for w in state["workers"]) == 400
        assert state["duration"] == round(sum(w["duration"] for w in state["workers"]), 3)

        assert scored_total((await client.get("/metrics")).text) == 400

        models = (await client.get("/models")).json()["models"]
        assert [(m["name"], m["status"]) for m in models] == [("w", "serving")]
        record = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
        answers = [(await client.post("/predict/wine", json=record)) for _ in range(4)]
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["result"]["label"] for a in answers}) == 1
    finally:
        await client.aclose()
        supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(supervisor.wait(), 60)
    assert code == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
async def test_a_supervisor_killed_outright_takes_its_workers(bootstrap: str) -> None:
    s = isolated_settings(bootstrap)
    port = free_port()
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", env=supervisor_env(s, port)
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await ready(client)
        pids = [w["pid"] for w in (await client.get("/snapshot")).json()["workers"]]
    assert len(pids) == 2
    supervisor.kill()
    await supervisor.wait()
    for _ in range(100):
        alive = [pid for pid in pids if _running(pid)]
        if not alive:
            break
        await asyncio.sleep(0.1)
    assert not alive, f"workers {alive} outlived their supervisor"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[-1][0] != "Z"


def socket_owners(port: int, state: str) -> dict[int, int]:
    """The processes (pid: how many) holding TCP sockets whose local port is ``port`` in
    ``state`` (0A listening, 01 established), read from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    owners: dict[int, int] = {}
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:  # gone, or not ours to read
            continue
        held = sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)
        if held:
            owners[pid] = held
    return owners


def children(pid: int) -> set[int]:
    found = set()
    for child in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{child}/stat") as stat:
                if int(stat.read().split(") ")[-1].split()[1]) == pid:
                    found.add(child)
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT's spreading and /proc")
async def test_each_worker_binds_the_one_grpc_port_and_the_kernel_spreads_connections() -> None:
    # No broker: a worker serves gRPC while it waits for Kafka, which is all this needs.
    s = isolated_settings(f"127.0.0.1:{free_port()}")
    grpc_port = free_port()
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        env=supervisor_env(s, free_port(), grpc_port=grpc_port),
    )
    channels = []
    try:

        def two_listening_workers() -> set[int] | None:
            workers = children(supervisor.pid)
            listening = socket_owners(grpc_port, "0A")
            return workers if len(workers) == 2 and set(listening) == workers else None

        workers: set[int] = await until(two_listening_workers, 60, what="both workers listening")
        assert supervisor.pid not in socket_owners(grpc_port, "0A")

        async def both_answered() -> bool:
            # A channel of its own is a new connection, which the kernel gives to either.
            channel = grpc.aio.insecure_channel(
                f"127.0.0.1:{grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)]
            )
            channels.append(channel)
            client = GRPCInferenceServiceStub(channel)
            assert (await client.ServerLive(pb.ServerLiveRequest(), timeout=10)).live
            return set(socket_owners(grpc_port, "01")) == workers

        await until(both_answered, 30, 0.01, what="connections answered by both workers")
    finally:
        for channel in channels:
            await channel.close()
        supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(supervisor.wait(), 60)
    assert code == 0
