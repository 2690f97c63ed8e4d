"""Logging set-up: plain text for people, one JSON object per line for log pipelines.

Log messages carry values from outside (a model name, a dataType, an error's text). Written
as they are, a newline in one forges a log line of the attacker's choosing: so every message
is one line, its control characters shown as escapes, and cut to a bounded length."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

MAX_MESSAGE_CHARS = 4096
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with every control, format or separator character (newlines, U+2028, ANSI
    escapes' ESC, …) written as an escape, and cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():  # the usual message: one C-level check
        return text
    return "".join(
        ch
        if ch.isprintable() or (ch == " ")
        else _ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in text
    )


class OneLineMessages(logging.Filter):
    """Makes each record's message one safe line before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a call whose arguments do not fit: logging reports it, as ever
            return True
        safe = one_line(message)
        if safe is not message:
            record.msg, record.args = safe, None
        return True


class TextFormatter(logging.Formatter):
    """Plain text; a traceback's lines are indented, so that no text inside one (an
    exception's message) can stand at the start of a line as if it were a log line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatException(self, ei: object) -> str:
        text = super().formatException(ei)  # type: ignore[arg-type]
        return "\n".join("    " + one_line(line) for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__()
        self._instance = instance

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "instance": self._instance,
        }
        for extra in ("model", "version", "dataType"):
            if hasattr(record, extra):
                value = getattr(record, extra)
                doc[extra] = one_line(value, 512) if isinstance(value, str) else value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, like logging's last resort, so a
    redirected or replaced stderr (tests, embedding) never meets a closed stream."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure_logging(log_format: str, level: str, instance: str) -> None:
    handler = _StderrHandler()
    handler.addFilter(OneLineMessages())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(instance))
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every (re)connection and group step.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
