"""Readiness follows the broker: a metadata request every few seconds. When the broker is back
after an outage and lost topics (a broker without persistent storage), they are created again
so consumers and producers can resume."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.errors import describe
from service.kafka.probe import connection_problem
from service.kafka.topics import ensure_topics, wanted_topics
from service.settings import Settings

log = logging.getLogger(__name__)


class BrokerWatchdog:
    name = "broker"

    def __init__(
        self, producer: AIOKafkaProducer, settings: Settings, every_s: float = 2.0
    ) -> None:
        self._producer = producer
        self._settings = settings
        self._every_s = every_s
        self.reachable = False
        self.problem: str | None = None  # why not, for readiness

    async def start(self) -> None:
        pass

    async def run(self) -> None:
        wanted = set(wanted_topics(self._settings))
        servers = self._settings.bootstrap_servers
        while True:
            try:
                metadata = await asyncio.wait_for(
                    self._producer.client.fetch_all_metadata(), timeout=self._every_s * 2
                )
                if not wanted <= set(metadata.topics()):
                    await ensure_topics(self._settings)
                if not self.reachable:
                    log.info("broker at %s reachable", servers)
                self.reachable, self.problem = True, None
            except (KafkaError, OSError, TimeoutError) as exc:
                problem = await connection_problem(self._settings) or describe(exc)
                if self.reachable or problem != self.problem:
                    log.warning("broker at %s unreachable: %s", servers, problem)
                self.reachable, self.problem = False, problem
            await asyncio.sleep(self._every_s)

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass
