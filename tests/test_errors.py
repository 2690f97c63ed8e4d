"""Which failures are worth trying again: what an error says of itself (aiokafka's KafkaError
and the service's own root carry ``retriable``), the world's state (connections, OS calls,
time-outs) yes, a bug no; a group of errors only when each is."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    NodeNotReadyError,
    UnsupportedVersionError,
)

from service.errors import (
    ModelLoadError,
    ModelServeError,
    ScoringError,
    describe,
    is_retriable,
)
from service.kafka.commits import DeliveryError
from service.kafka.data_part import DataLoopFailedError
from service.learning.algorithms import UnlearnableError
from service.learning.feedback import InvalidFeedbackError
from service.learning.restore import CannotResumeError
from service.learning.state import InvalidStateError


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError("broker gone"),
        NodeNotReadyError("not yet"),
        OSError("network unreachable"),
        ConnectionResetError("reset"),
        TimeoutError("slow"),
        DeliveryError("1 output batches not acknowledged"),
    ],
)
def test_the_world_s_state_is_retriable(error: BaseException) -> None:
    assert is_retriable(error)


@pytest.mark.parametrize(
    "error",
    [
        CommitFailedError("the group moved on"),
        UnsupportedVersionError("no"),
        TypeError("a bug"),
        KeyError("a bug"),
        AssertionError("a bug"),
        ValueError("a bug"),
        ModelServeError("on purpose"),
        ScoringError("a model raised"),
        ModelLoadError("no artifact"),
        CannotResumeError("other flags"),
        InvalidStateError("junk"),
        UnlearnableError("not finite"),
        InvalidFeedbackError("no label"),
        DataLoopFailedError("too often"),
    ],
)
def test_bugs_bad_data_and_errors_that_say_so_are_not_retriable(error: BaseException) -> None:
    assert not is_retriable(error)


def test_the_learner_s_errors_are_under_the_root_and_still_value_errors() -> None:
    """`modelserve learn` exits 2 with one line on a ValueError (tools/cli.py)."""
    for kind in (CannotResumeError, InvalidStateError, UnlearnableError):
        assert issubclass(kind, ModelServeError) and issubclass(kind, ValueError)
    assert issubclass(DeliveryError, ModelServeError)


def test_a_group_is_retriable_only_when_every_error_in_it_is() -> None:
    broker = ExceptionGroup("loop", [DeliveryError("gone"), KafkaConnectionError("gone")])
    assert is_retriable(broker)
    nested = ExceptionGroup("outer", [broker, ExceptionGroup("inner", [TypeError("bug")])])
    assert not is_retriable(nested)


def test_describe_names_every_error_of_a_group_on_one_line() -> None:
    group = ExceptionGroup("loop", [TypeError("bad\nthing"), OSError("gone")])
    assert describe(group) == "TypeError: bad thing; OSError: gone"
