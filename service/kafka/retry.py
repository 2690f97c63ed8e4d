"""Whether a failure that came through Kafka is worth another try. aiokafka's ``retriable``
flag says whether the client itself may resend a request; for the service, whatever Kafka
answers (a time-out, a rebalance, a failed commit, refused credentials) is the state of the
cluster, not a bug here, so a part that meets it restarts for as long as it takes, and says
why in one line. Everything else is judged by the error root (errors.is_retriable)."""

from __future__ import annotations

from aiokafka.errors import KafkaError

from service.errors import is_retriable


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(is_transient(inner) for inner in exc.exceptions)
    return isinstance(exc, KafkaError) or is_retriable(exc)
