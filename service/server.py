"""The composition root: builds every part from the settings and hands them, in start order,
to a PartRunner (parts.py), which stops them in reverse order, the order that loses nothing:
the data loop drains (every batch in flight acknowledged and committed) before the control
reader stops, events are published before their producer closes, and HTTP answers to the
end."""

from __future__ import annotations

import logging
import os
import socket

from service import __version__
from service.clock import Clock
from service.cluster.snapshot import Identity, SnapshotTaker
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.control.descriptor import ControlLimits
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loader
from service.grpc.server import GrpcPart
from service.http.app import Health, create_app
from service.http.server import HttpPart, make_server
from service.kafka.clients import (
    make_control_consumer,
    make_data_consumer,
    make_producer,
    make_stats_consumer,
)
from service.kafka.connection import KafkaConnection
from service.kafka.control import ControlReader
from service.kafka.data import DataLoop
from service.kafka.data_part import DataPart
from service.kafka.events import EventPublisher
from service.kafka.oip_inference import KafkaInference
from service.kafka.oip_records import kubernetes_namespace
from service.kafka.retry import is_transient
from service.kafka.watchdog import BrokerWatchdog
from service.metrics import Metrics
from service.oip.inference import Inference
from service.parts import CLOSE_TIMEOUT_S, Part, PartRunner
from service.remote.endpoints import EndpointBook
from service.routing.model_metrics import ModelCollector
from service.routing.registry import Registry
from service.routing.route_metrics import RouteCollector
from service.scoring.batching import BatchPolicy
from service.scoring.engine import Engine
from service.settings import Settings

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        """``clock``: the control plane's (expiry, history times), the wall clock unless a
        test drives it."""
        self.settings = settings
        self.instance = settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = Metrics()
        self.registry = Registry(
            clock,
            shadow_timeout_s=settings.shadow_timeout_ms / 1000.0,
            on_unload=self.metrics.forget_version,
        )
        self.metrics.registry.register(RouteCollector(self.registry))
        self.metrics.registry.register(ModelCollector(self.registry))
        threads = max(1, (os.cpu_count() or 1) // settings.workers)
        # The REMOTE models' servers: one connection, breaker and call cap per endpoint,
        # shared by every model of the process that calls it; their metrics in /metrics.
        self.endpoints = EndpointBook(self.metrics.registry)
        self.engine = Engine(
            self.registry, self.metrics, settings.default_data_type, settings.max_json_depth
        )
        producer = make_producer(settings)
        self.lifecycle = ModelLifecycle(
            self.registry,
            Loader(settings, intra_op_threads=threads, endpoints=self.endpoints),
            EventPublisher(producer, settings.events_topic),
            self.metrics,
            self.instance,
            ControlLimits(settings.max_descriptor_bytes, settings.max_json_depth),
            clock,
        )
        self.kafka = KafkaConnection(settings, producer)
        self.control = ControlReader(
            make_control_consumer(settings), settings.control_topic, self.lifecycle
        )
        self.watchdog = BrokerWatchdog(producer, settings)
        self.timeline = Timeline(self.metrics.totals)
        identity = Identity(settings.replica_id or self.instance, settings.worker_index)
        self.cluster = ClusterStats(
            SnapshotTaker(
                identity,
                self.registry,
                self.metrics,
                lambda: self.data.loop.lags,
                settings.stats_interval_s,
            ),
            producer,
            make_stats_consumer(settings),
            settings.stats_topic,
            settings.stats_interval_s,
        )
        self.inference = Inference(
            self.registry,
            self.engine,
            self.metrics,
            settings.max_batch_size,
            self.is_live,
            lambda: all(self.readiness().values()),
            __version__,
            replayed=self.control.caught_up.is_set,
        )
        # Named in the Kafka answers' CloudEvents headers, as MLServer names it (read once).
        self.namespace = kubernetes_namespace()
        # After the inference: the data loop answers the Open Inference Protocol's requests.
        self.data = DataPart(settings, self._new_data_loop, self.control.caught_up, self.metrics)
        app = create_app(
            self.registry,
            self.metrics,
            self.engine,
            Health(self.is_live, self.readiness, self.problem, self.endpoints.down),
            self.cluster,
            self.timeline,
            max_request_bytes=settings.max_request_bytes,
            max_json_depth=settings.max_json_depth,
            inference=self.inference,
        )
        self.http = HttpPart(
            make_server(app, settings.http_host, settings.http_port, settings.worker_socket)
        )
        # The Open Inference Protocol over gRPC, unless GRPC_PORT is 0; under WORKERS=N every
        # worker binds the one port (grpc/server.py).
        self.grpc = (
            GrpcPart(
                self.inference,
                settings.http_host,
                settings.grpc_port,
                settings.max_request_bytes,
                settings.drain_timeout_s,
            )
            if settings.grpc_port
            else None
        )
        # In start order; they stop in reverse: the stats part writes its last snapshot after
        # the data loop drained and before the shared producer closes; gRPC, like HTTP,
        # answers while Kafka is reached and until the data loop has drained.
        self.parts: list[Part] = [
            self.http,
            *([self.grpc] if self.grpc is not None else []),
            self.timeline,
            self.kafka,
            self.cluster,
            self.control,
            self.data,
            self.watchdog,
        ]
        self.runner = PartRunner(
            self.parts,
            reaching=f"Kafka at {settings.bootstrap_servers}",
            retriable=is_transient,
            # The data part drains for up to drain_timeout_s; no part may take much longer.
            stop_timeout_s=settings.drain_timeout_s + CLOSE_TIMEOUT_S,
        )
        self._closed = False

    def _new_data_loop(self) -> DataLoop:
        """The data loop: its own consumer and producer, so that it can be rebuilt after a
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
            shadow_topic=settings.shadow_topic,
            requests=self._kafka_inference(),
            remote_give_up_s=settings.remote_give_up_s,
        )

    def _kafka_inference(self) -> KafkaInference | None:
        """The Open Inference Protocol on Kafka, answered by the data loop, when served."""
        settings = self.settings
        if not settings.oip_input_topic:
            return None
        return KafkaInference(
            self.inference,
            self.metrics,
            settings.oip_input_topic,
            settings.oip_output_topic,
            settings.max_json_depth,
            self.namespace,
        )

    # -- health -----------------------------------------------------------------------------

    def is_live(self) -> bool:
        return self.runner.is_live()

    def readiness(self) -> dict[str, bool]:
        return {
            "brokerReachable": self.watchdog.reachable,
            "controlCaughtUp": self.control.caught_up.is_set(),
            "dataAssigned": self.data.assigned,
        }

    def problem(self) -> str | None:
        """Why Kafka does not let this replica in (refused credentials, an unknown CA, no
        broker there), while it does not."""
        if self.watchdog.reachable:
            return None
        return self.watchdog.problem or self.kafka.problem

    @property
    def http_port(self) -> int | None:
        return self.http.port

    @property
    def grpc_port(self) -> int | None:
        """The gRPC port bound (None when off or before the start)."""
        return self.grpc.port if self.grpc is not None else None

    # -- life: the runner's ------------------------------------------------------------------

    async def start(self) -> None:
        """Each part in order, then all of them running. HTTP comes first, so liveness answers
        (live, not ready) while Kafka is still being reached."""
        if await self.runner.start():
            log.info(
                "modelserve %s started; HTTP on port %s, gRPC on port %s",
                self.instance,
                self.http_port,
                self.grpc_port or "(off)",
            )

    async def wait(self) -> None:
        """Until stop() is called or a part fails; a failed part's error is raised."""
        await self.runner.wait()

    def request_stop(self) -> None:
        self.runner.request_stop()

    async def stop(self) -> None:
        """Every part, in reverse start order (PartRunner.stop), then the models. Once."""
        if self._closed:
            return
        self._closed = True
        # A part that failed ends the process: its replica should age out of the cluster
        # view like a killed one, not be reported as stopped on purpose.
        self.cluster.clean_stop = self.is_live()
        await self.runner.stop()
        for serving in self.registry.all_serving():
            serving.displace()
        self.endpoints.close()
        log.info("modelserve %s stopped", self.instance)
