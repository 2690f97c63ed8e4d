"""One exception root. Each subclass carries the reason code that reaches users: the
``dlq.reason`` header of a dead letter, or the status of a model event."""

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


class ModelServeError(Exception):
    """Root of every error the service raises on purpose."""

    reason: ClassVar[str] = "error"

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


# --- model errors: the reason is the status of the model event ------------------------------


class ModelError(ModelServeError):
    """A descriptor or model that cannot serve; the model in service stays."""


class DescriptorRejectedError(ModelError):
    """The descriptor itself is unacceptable (schema, version rules, policy)."""

    reason = "rejected"


class ModelLoadError(ModelError):
    """The descriptor was fine but its artifact could not be fetched, verified or loaded."""

    reason = "failed"
