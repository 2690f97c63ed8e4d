"""The composition root: builds every part from the settings, starts them in order, runs
them as owned tasks, and stops them in the order that loses nothing (drain)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import suppress

from aiokafka.errors import KafkaError

from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loader
from service.http.app import Health, create_app
from service.http.server import make_server
from service.kafka.clients import make_control_consumer, make_data_consumer, make_producer
from service.kafka.control import ControlReader
from service.kafka.data import DataLoop
from service.kafka.events import EventPublisher
from service.kafka.topics import ensure_topics, wanted_topics
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.batching import BatchPolicy
from service.scoring.engine import Engine
from service.settings import Settings

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.instance = settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = Metrics()
        self.registry = Registry()
        threads = max(1, (os.cpu_count() or 1) // settings.workers)
        loader = Loader(settings, intra_op_threads=threads)
        self.engine = Engine(self.registry, self.metrics, settings.default_data_type)
        self._producer = make_producer(settings)
        self.lifecycle = ModelLifecycle(
            self.registry,
            loader,
            EventPublisher(self._producer, settings.events_topic),
            self.metrics,
            self.instance,
            settings.max_descriptor_bytes,
        )
        self.control = ControlReader(
            make_control_consumer(settings), settings.control_topic, self.lifecycle
        )
        self.data = self._new_data_loop()
        self.app = create_app(
            self.registry, self.metrics, self.engine, Health(self._live, self._ready)
        )
        self.http = make_server(self.app, settings.http_host, settings.http_port)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = asyncio.Event()
        self._broker_ok = False

    def _new_data_loop(self) -> DataLoop:
        """The data plane: its own consumer and producer, so that it can be rebuilt after a
        failure without touching the control plane."""
        settings = self.settings
        return DataLoop(
            make_data_consumer(settings),
            make_producer(settings),
            self.engine,
            BatchPolicy(settings.max_batch_size, settings.max_batch_delay_ms),
            self.metrics,
            settings.data_topics,
            settings.output_topic,
            settings.dlq_topic,
            wait_for_models=settings.no_model_policy == "wait",
            commit_interval_ms=settings.commit_interval_ms,
        )

    # -- health -----------------------------------------------------------------------------

    def _live(self) -> bool:
        return not any(t.done() for t in self._tasks.values())

    def _ready(self) -> dict[str, bool]:
        return {
            "brokerReachable": self._broker_ok,
            "controlCaughtUp": self.control.caught_up.is_set(),
            "dataAssigned": self.data.assigned.is_set(),
        }

    @property
    def http_port(self) -> int | None:
        return self.http.port

    # -- life -------------------------------------------------------------------------------

    async def start(self) -> None:
        """HTTP first (so liveness answers while Kafka is still being reached), then Kafka."""
        self._tasks["http"] = asyncio.create_task(self.http.serve(), name="http")
        while not self.http.started:
            if self._tasks["http"].done():
                await self._tasks["http"]
                raise RuntimeError("HTTP server stopped during start")
            await asyncio.sleep(0.01)
        await self._connect()
        if self._stopped.is_set():
            return
        self._tasks["control"] = asyncio.create_task(self.control.run(), name="control")
        self._tasks["data"] = asyncio.create_task(self._data_when_caught_up(), name="data")
        self._tasks["broker"] = asyncio.create_task(self._watch_broker(), name="broker")
        log.info("modelserve %s started; HTTP on port %s", self.instance, self.http_port)

    async def _connect(self) -> None:
        """Until Kafka answers (or a stop is requested): HTTP is up meanwhile, live and not
        ready, so an orchestrator waits instead of restarting the replica in a loop."""
        delay = 0.5
        while not self._stopped.is_set():
            try:
                await ensure_topics(self.settings)
                await self._producer.start()
                await self.control.start()
                return
            except (KafkaError, OSError) as exc:
                log.warning(
                    "Kafka at %s not reachable (%s); retrying in %.1fs",
                    self.settings.bootstrap_servers,
                    exc,
                    delay,
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), delay)
                delay = min(delay * 2, 10.0)

    async def _watch_broker(self, every_s: float = 2.0) -> None:
        """Readiness follows the broker: a metadata request every few seconds. When the
        broker is back after an outage and lost topics (a broker without persistent storage),
        they are created again so consumers and producers can resume."""
        wanted = set(wanted_topics(self.settings))
        while True:
            try:
                metadata = await asyncio.wait_for(
                    self._producer.client.fetch_all_metadata(), timeout=every_s * 2
                )
                if not wanted <= set(metadata.topics()):
                    await ensure_topics(self.settings)
                if not self._broker_ok:
                    log.info("broker at %s reachable", self.settings.bootstrap_servers)
                self._broker_ok = True
            except (KafkaError, OSError, TimeoutError) as exc:
                if self._broker_ok:
                    log.warning(
                        "broker at %s unreachable: %s", self.settings.bootstrap_servers, exc
                    )
                self._broker_ok = False
            await asyncio.sleep(every_s)

    async def _data_when_caught_up(self) -> None:
        # Records are only scored once the models in the control log are in place; otherwise
        # a restart would dead-letter records that a model was about to serve.
        await self.control.caught_up.wait()
        backoff = 1.0
        while not self._stopped.is_set():
            try:
                await self.data.start()
                await self.data.run()
                return
            except Exception as exc:  # the broker went away, an output was not acknowledged
                # Nothing past the failure was committed: a fresh consumer resumes from the
                # committed offsets, so records are at worst scored again, never lost.
                self.metrics.data_plane_restarts.inc()
                log.error("data plane failed (%s); restarting in %.0fs", _describe(exc), backoff)
                await self.data.close()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), backoff)
                backoff = min(backoff * 2, 30.0)
                if not self._stopped.is_set():
                    with suppress(KafkaError, OSError):
                        await ensure_topics(self.settings)
                    self.data = self._new_data_loop()

    async def wait(self) -> None:
        """Until stop() is called or a part fails; a failed part's error is raised."""
        stop = asyncio.create_task(self._stopped.wait())
        done, _ = await asyncio.wait(
            [stop, *self._tasks.values()], return_when=asyncio.FIRST_COMPLETED
        )
        stop.cancel()
        for task in done:
            if task is not stop and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        """Drain: stop fetching, finish and commit the batch in flight, leave the group, stop
        the control reader, flush the producer, stop HTTP."""
        self._stopped.set()
        self.data.request_stop()
        data_task = self._tasks.get("data")
        if data_task is not None and not data_task.done():
            try:
                await asyncio.wait_for(asyncio.shield(data_task), self.settings.drain_timeout_s)
            except TimeoutError:
                log.warning("drain timed out after %.1fs", self.settings.drain_timeout_s)
            except Exception:
                log.exception("data loop ended with an error")
        for name in ("data", "control", "broker"):
            task = self._tasks.get(name)
            if task is not None and not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
        # Closing clients whose broker is gone can raise anything, including the
        # cancellation of their own background tasks: none of it may stop the drain.
        with suppress(Exception, asyncio.CancelledError):
            await self.data.close()
        with suppress(Exception, asyncio.CancelledError):
            await self.control.stop()
        self.lifecycle.close()
        with suppress(Exception, asyncio.CancelledError):
            await self._producer.stop()
        self.http.should_exit = True
        http_task = self._tasks.get("http")
        if http_task is not None:
            with suppress(asyncio.CancelledError, Exception):
                await http_task
        for serving in self.registry.all_serving():
            serving.displace()
        log.info("modelserve %s stopped", self.instance)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
