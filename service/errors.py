"""One exception root. Each subclass carries the reason code that reaches users (the
``dlq.reason`` header of a dead letter, or the status of a model event) and whether trying
again may cure it (``retriable``, as aiokafka's KafkaError says it), which ``is_retriable``
reads for any exception: a loop that restarts on a failure tells a broker outage from a bug."""

from __future__ import annotations

from typing import ClassVar

MAX_ERROR_CHARS = 512


def sanitise(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Make an error text safe to put in a header, an event or a JSON answer: printable
    characters only, one line, at most ``limit`` characters. A long text is cut first (its
    whitespace may fold, so by a margin): cleaning costs a step per character."""
    text = text[: 4 * limit]
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def is_retriable(exc: BaseException) -> bool:
    """Whether trying again may cure ``exc``. An error that says so itself (aiokafka's
    KafkaError and this root both carry ``retriable``) is taken at its word; a connection, an
    OS call or a time-out failing is the world's state, so yes; anything else (TypeError,
    KeyError, AssertionError...) is a bug that will happen again. A group of errors (a task
    group's) is retriable only when every error in it is. Duck-typed: this floor imports no
    Kafka."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_retriable(inner) for inner in exc.exceptions)
    flag = getattr(exc, "retriable", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(exc, (OSError, TimeoutError))  # ConnectionError is an OSError


def describe(exc: BaseException) -> str:
    """One line naming an error and its message, or every error of a group."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return sanitise(f"{type(exc).__name__}: {exc}")


class ModelServeError(Exception):
    """Root of every error the service raises on purpose."""

    reason: ClassVar[str] = "error"
    # Whether the same work, tried again later, may succeed: a bug or bad input never does.
    retriable: ClassVar[bool] = False

    def __str__(self) -> str:
        return sanitise(super().__str__())


# --- record errors: the reason is the dlq.reason header --------------------------------------


class RecordError(ModelServeError):
    """A record that cannot be scored; it goes to the dead-letter topic."""


class DecodeError(RecordError):
    reason = "decode-error"


class InvalidRecordError(RecordError):
    reason = "invalid-record"


class NoModelError(RecordError):
    reason = "no-model"

    def __init__(self, message: str, data_type: str | None = None) -> None:
        super().__init__(message)
        self.data_type = data_type


class ScoringError(RecordError):
    reason = "scoring-error"


class ModelUnavailableError(RecordError):
    """A model that cannot answer now through no fault of the records: a remote model's server
    unreachable, failing (5xx) or too slow, or its circuit open. Never a dead letter: the
    records' partition holds its place and their batch is tried again after ``retry_after_s``
    (scoring/wait_for_model.py). ``data_type`` is set by the engine, which knows it."""

    reason = "model-unavailable"

    def __init__(
        self, message: str, retry_after_s: float = 1.0, data_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.data_type = data_type


# --- model errors: the reason is the status of the model event ------------------------------


class ModelError(ModelServeError):
    """A descriptor or model that cannot serve; the model in service stays."""


class DescriptorRejectedError(ModelError):
    """The descriptor itself is unacceptable (schema, version rules, policy)."""

    reason = "rejected"


class ModelLoadError(ModelError):
    """The descriptor was fine but its artifact could not be fetched, verified or loaded."""

    reason = "failed"
