"""MLServer 1.7.1 serving the scikit-learn wine classifier, as a subprocess from the
``mlserver`` peer environment, for tests that hold modelserve's Open Inference Protocol
against it or call it as a remote model:

    async with serving_mlserver(wine_model, tmp_path) as mlserver:
        httpx.post(f"{mlserver.http_url}/v2/models/{mlserver.model_name}/infer", ...)
        mlserver.kill()            # SIGKILL, as a crash
        await mlserver.restart()   # back on the same ports, ready

With ``kafka=KafkaTopics.fresh(bootstrap)`` its Kafka server is on too: it reads
InferenceRequests from ``kafka.input`` and writes InferenceResponses to ``kafka.output``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from service.kafka.clients import open_topic_reader
from service.kafka.topics import make_admin
from service.settings import Settings
from service.tools.devbroker import free_port
from tests.peers.envs import peer_python
from tests.peers.wine_model import WineModel

HOST = "127.0.0.1"
MODEL_HEADER = "mlserver-model"  # names the model of a request on MLServer's Kafka server
# The keys of the requests that find out whether MLServer's Kafka server reads its topic yet;
# their answers are on the output topic too, for tests to set aside.
PROBE_KEY_PREFIX = "mlserver-probe-"


@dataclass(frozen=True)
class KafkaTopics:
    """Where MLServer's Kafka server reads requests and writes answers."""

    bootstrap: str
    input: str
    output: str

    @classmethod
    def fresh(cls, bootstrap: str) -> KafkaTopics:
        uid = uuid.uuid4().hex[:8]
        return cls(bootstrap, f"mlserver-input-{uid}", f"mlserver-output-{uid}")

    async def create(self) -> None:
        """MLServer's consumer has no group and starts at the end of its topic: made before
        it starts, the topic's partitions are known to it at once."""
        admin = make_admin(Settings(bootstrap_servers=self.bootstrap))
        await admin.start()
        try:
            for topic in (self.input, self.output):
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()


class MLServerPeer:
    """One MLServer process and the folder it runs from (settings.json, models/<name>/, its
    log). Ports are chosen once, so a restart comes back at the same addresses."""

    def __init__(
        self,
        model: WineModel,
        folder: Path,
        *,
        model_name: str = "wine",
        version: str | None = "1",
        predict_fn: str | None = None,
        kafka: KafkaTopics | None = None,
        parallel_workers: int = 0,
        python: Path | None = None,
    ) -> None:
        self.model = model
        self.folder = folder
        self.model_name = model_name
        self.version = version
        self.kafka = kafka
        self.http_port = free_port(HOST)
        self.grpc_port = free_port(HOST)
        self.log_path = folder / "mlserver.log"
        self._mlserver = (python or peer_python("mlserver")).parent / "mlserver"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._write_settings(predict_fn, parallel_workers)

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_settings(self, predict_fn: str | None, parallel_workers: int) -> None:
        models = self.folder / "models"
        # The folder named as the model: MLServer warns when they differ.
        (models / self.model_name).mkdir(parents=True, exist_ok=True)
        parameters: dict[str, Any] = {"uri": str(self.model.path)}
        if self.version is not None:
            parameters["version"] = self.version
        if predict_fn is not None:
            # What a request that names no outputs gets (predict otherwise); a request may
            # still ask for predict or predict_proba by name.
            parameters["extra"] = {"predict_fn": predict_fn}
        model_settings = {
            "name": self.model_name,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": parameters,
            # Metadata only (GET /v2/models/<name>): MLServer decodes by the request's tensors.
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 11]}],
            "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1, 1]}],
        }
        settings: dict[str, Any] = {
            "host": HOST,
            "http_port": self.http_port,
            "grpc_port": self.grpc_port,
            "model_repository_root": str(models),
            # Its metrics server would take a third port (8082, fixed by default).
            "metrics_endpoint": None,
            "metrics_dir": str(self.folder / "metrics"),
            # 0: inference in the server's own process; 1 (MLServer's default) adds a worker
            # process per model, slower to start on a shared two-core machine.
            "parallel_workers": parallel_workers,
        }
        if self.kafka is not None:
            settings |= {
                "kafka_enabled": True,
                "kafka_servers": self.kafka.bootstrap,
                "kafka_topic_input": self.kafka.input,
                "kafka_topic_output": self.kafka.output,
            }
        (models / self.model_name / "model-settings.json").write_text(
            json.dumps(model_settings, indent=2)
        )
        (self.folder / "settings.json").write_text(json.dumps(settings, indent=2))

    async def start(self, timeout_s: float = 90.0) -> None:
        """Starts MLServer and returns once it serves the model over HTTP and gRPC (and reads
        its Kafka topic, if on); raises with the end of its log if it does not in time."""
        if self.running():
            raise RuntimeError(f"MLServer already running (pid {self.pid})")
        self._spawn()
        deadline = time.monotonic() + timeout_s
        try:
            await self._wait_serving(deadline)
            if self.kafka is not None:
                await self._wait_reading_kafka(self.kafka, deadline)
        except BaseException:
            self.kill()  # not left behind half-started
            raise

    def _spawn(self) -> None:
        # Popen returns once the child runs (no waiting on it), and a plain process, unlike
        # an asyncio one, can be killed and reaped from synchronous code (kill()).
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"--- modelserve tests: starting MLServer at {time.ctime()}\n".encode())
        self._log.flush()
        self._process = subprocess.Popen(
            [str(self._mlserver), "start", str(self.folder)],
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_peer_environment(),
            # Its own process group, so that kill() takes any worker processes with it.
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL, as a crash: no drain, no goodbye."""
        # Only a process not yet reaped: a reaped one's group id may be another's by now.
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    async def restart(self, timeout_s: float = 90.0) -> None:
        self.kill()
        await self.start(timeout_s)

    async def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM (MLServer stops its servers), SIGKILL after ``grace_s``."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self._process.wait, grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_for_log(self, *lines: str, timeout_s: float = 30.0) -> None:
        """Until every one of ``lines`` is in its log (MLServer says what it drops there and
        nowhere else); raises with the log's end if one is not in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = self.log_text()
            missing = [line for line in lines if line not in text]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not in MLServer's log: {missing}\n{self.log_tail()}")
            await asyncio.sleep(0.1)  # the polling interval

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _check_alive(self, what: str) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(
                f"MLServer exited with {self._process.returncode} before {what}; "
                f"its log ({self.log_path}) ends:\n{self.log_tail()}"
            )

    def _check_deadline(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"MLServer not {what} in time; its log ({self.log_path}) ends:\n{self.log_tail()}"
            )

    async def _wait_serving(self, deadline: float) -> None:
        # The server answers ready while its registry is still empty (all of no models are
        # ready), so the model's own readiness is asked too; and its gRPC server binds after
        # the HTTP one, so its port is tried last.
        urls = [
            f"{self.http_url}/v2/health/ready",
            f"{self.http_url}/v2/models/{self.model_name}/ready",
        ]
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                self._check_alive("it was ready")
                if await _all_answer_200(client, urls) and await _port_open(self.grpc_port):
                    return
                self._check_deadline(deadline, "ready")
                await asyncio.sleep(0.2)  # the polling interval

    async def _wait_reading_kafka(self, kafka: KafkaTopics, deadline: float) -> None:
        """MLServer's consumer starts at the end of its topic, once it has asked where that
        is; a request sent before then is never read. So: send probe requests until one is
        answered."""
        token = f"{PROBE_KEY_PREFIX}{uuid.uuid4().hex[:8]}-"
        request = {
            "inputs": [
                {
                    "name": "input-0",
                    "datatype": "FP64",
                    "shape": [1, 11],
                    "data": self.model.features[0],
                }
            ]
        }
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=False)
        await producer.start()
        reader = await open_topic_reader(Settings(bootstrap_servers=kafka.bootstrap), kafka.output)
        try:
            for attempt in itertools.count(1):
                await producer.send_and_wait(
                    kafka.input,
                    json.dumps(request).encode(),
                    key=f"{token}{attempt}".encode(),
                    headers=[(MODEL_HEADER, self.model_name.encode())],
                )
                # A probe's answer takes milliseconds once MLServer reads the topic.
                round_ends = time.monotonic() + 2.0
                while time.monotonic() < round_ends:
                    for batch in (await reader.getmany(timeout_ms=200)).values():
                        if any((r.key or b"").startswith(token.encode()) for r in batch):
                            return
                self._check_alive("its Kafka server answered")
                self._check_deadline(deadline, "reading its Kafka topic")
        finally:
            await reader.stop()
            await producer.stop()


@asynccontextmanager
async def serving_mlserver(
    model: WineModel,
    folder: Path,
    *,
    kafka: KafkaTopics | None = None,
    timeout_s: float = 90.0,
    **options: Any,
) -> AsyncIterator[MLServerPeer]:
    """A started MLServerPeer (``options`` as its constructor's), stopped on the way out.
    With ``kafka``, its topics are created first."""
    if kafka is not None:
        await kafka.create()
    peer = MLServerPeer(model, folder, kafka=kafka, **options)
    try:
        await peer.start(timeout_s)
        yield peer
    finally:
        await peer.stop()


def _peer_environment() -> dict[str, str]:
    """This process's environment without what would lead MLServer elsewhere: the tests'
    PYTHONPATH (the peer runs its own packages) and MLSERVER_* settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} and not k.startswith("MLSERVER")
    }


async def _all_answer_200(client: httpx.AsyncClient, urls: list[str]) -> bool:
    try:
        for url in urls:
            if (await client.get(url)).status_code != 200:
                return False
    except httpx.TransportError:
        return False
    return True


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
