"""What the parts retry: anything Kafka answers, whatever aiokafka's own ``retriable`` flag
says (it tells whether the client may resend a request, not whether the cluster will heal),
plus what the error root calls retriable; a bug never."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    KafkaTimeoutError,
    SaslAuthenticationFailed,
    UnknownMemberIdError,
)

from service.kafka.commits import DeliveryError
from service.kafka.retry import is_transient
from service.learning.restore import CannotResumeError


@pytest.mark.parametrize(
    "error",
    [
        KafkaTimeoutError(),
        UnknownMemberIdError(),
        CommitFailedError(),
        SaslAuthenticationFailed("wrong password"),
        KafkaConnectionError("gone"),
        DeliveryError("not acknowledged"),
        ConnectionResetError(),
        TimeoutError(),
    ],
)
def test_what_the_cluster_answers_is_tried_again(error: BaseException) -> None:
    assert is_transient(error)


def test_aiokafka_would_not_have_retried_some_of_them() -> None:
    """The reason this classifier exists: aiokafka flags these as not retriable."""
    assert not KafkaTimeoutError.retriable and not SaslAuthenticationFailed.retriable


@pytest.mark.parametrize(
    "error", [TypeError("bug"), KeyError("field"), AssertionError(), CannotResumeError("flags")]
)
def test_a_bug_or_a_refusal_is_not(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_group_is_transient_only_when_all_of_it_is() -> None:
    assert is_transient(ExceptionGroup("loop", [KafkaTimeoutError(), DeliveryError("x")]))
    assert not is_transient(ExceptionGroup("loop", [KafkaTimeoutError(), TypeError("bug")]))
