"""Fixtures: the certificates (once per session) and ``start_front``, which puts a secured
front before a Tansu of its own — one broker per front, because a broker advertises one
address — and stops both at the end of the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack

import pytest

from service.tools.devbroker import DevBroker, free_port
from tests.kafka_front.certs import Pki, make_pki
from tests.kafka_front.clients import USERS, StartFront
from tests.kafka_front.front import KafkaFront
from tests.kafka_front.sasl import MECHANISMS, Authenticator


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def start_front(pki: Pki) -> AsyncIterator[StartFront]:
    """``await start_front()`` is a SASL_SSL front taking USERS with every mechanism;
    ``sasl=False`` makes it TLS only, ``require_client_cert=True`` mutual TLS, ``users`` and
    ``mechanisms`` narrow what it takes. It returns once the broker behind it answers."""
    async with AsyncExitStack() as stack:

        async def start(
            sasl: bool = True,
            require_client_cert: bool = False,
            users: Mapping[str, str] = USERS,
            mechanisms: tuple[str, ...] = MECHANISMS,
        ) -> KafkaFront:
            # The front listens first, so that the broker can advertise its address.
            broker_port = free_port()
            front = KafkaFront(
                ("127.0.0.1", broker_port),
                pki.server_context(require_client_cert),
                Authenticator(users, mechanisms) if sasl else None,
            )
            await front.start()
            stack.push_async_callback(front.close)
            broker = DevBroker(port=broker_port, advertised=front.address)
            await stack.enter_async_context(broker)
            return front

        yield start
