"""Why Kafka cannot be reached, in one line. A client that cannot bootstrap says only "Unable to
bootstrap from [...]" (aiokafka logs the cause apart, once per attempt); the service and the
CLI ask here instead, with the very options every client uses: one connection per bootstrap
server, TLS handshake and SASL authentication included, so that a wrong password, an unknown
CA or a hostname mismatch is named as such within seconds, not hidden in a retry loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError

from service.errors import ModelServeError, describe
from service.kafka.clients import connection_options
from service.settings import Settings

PROBE_TIMEOUT_S = 10.0


class KafkaUnreachableError(ModelServeError):
    """Kafka did not let us in; the message says why. Retriable: the broker may come back,
    a certificate may be renewed, a password rotated."""

    reason = "kafka-unreachable"
    retriable = True


async def connection_problem(settings: Settings, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when one bootstrap server accepts a connection (authenticated, where the settings
    ask for it); else what each one answered, ``host:port: Error: message``."""
    options = connection_options(settings)
    servers = options.pop("bootstrap_servers")
    problems = []
    for server in (s.strip() for s in str(servers).split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            conn = await asyncio.wait_for(_connect(host, int(port), options), timeout_s)
        except Exception as exc:  # whatever it is (a time-out too), it is the answer
            problems.append(f"{server}: {describe(exc) if str(exc) else type(exc).__name__}")
            continue
        conn.close()
        return None
    return "; ".join(problems) or f"no bootstrap server in {servers!r}"


async def _connect(host: str, port: int, options: dict[str, Any]) -> Any:
    return await create_conn(
        host, port, client_id="modelserve-probe", request_timeout_ms=5000, **options
    )


@asynccontextmanager
async def saying_why(settings: Settings) -> AsyncIterator[None]:
    """Around a first reach for Kafka: a client that could not get in becomes a
    KafkaUnreachableError that says why."""
    try:
        yield
    except (KafkaError, OSError) as exc:
        raise await unreachable(settings, exc) from exc


async def unreachable(settings: Settings, cause: BaseException) -> KafkaUnreachableError:
    """The error to raise in place of ``cause`` (a client that could not bootstrap): why,
    when the probe finds out, else the cause's own words."""
    problem = await connection_problem(settings)
    return KafkaUnreachableError(problem or describe(cause))
