import logging

import orjson
import pytest

from service.logs import MAX_MESSAGE_CHARS, configure_logging


def test_json_lines_carry_model_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO", "replica-1")
    try:
        logging.getLogger("service.control.lifecycle").warning(
            "model %s failed", "m", extra={"model": "m", "version": 3, "dataType": "wine"}
        )
        line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["message"] == "model m failed" and line["level"] == "warning"
        assert (line["model"], line["version"], line["dataType"], line["instance"]) == (
            "m",
            3,
            "wine",
            "replica-1",
        )
    finally:
        logging.getLogger().handlers.clear()


def test_a_forged_line_in_a_value_stays_inside_its_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A dataType (or any value from outside) holding a newline and a fake log line: the
    log shows it escaped, on the line of the message that carries it."""
    configure_logging("text", "INFO", "replica-1")
    forged = "\n2099-01-01 00:00:00,000 ERROR forged: admin logged in\r\u2028\x1b[31m"
    try:
        log = logging.getLogger("service.control.lifecycle")
        log.warning("model m loaded for dataType %s", forged)
        try:
            raise ValueError(f"bad value {forged}")
        except ValueError:
            log.exception("failed")
        lines = capsys.readouterr().err.splitlines()
    finally:
        logging.getLogger().handlers.clear()
    assert not any(line.startswith("2099") for line in lines)
    assert "dataType \\n2099-01-01 00:00:00,000 ERROR forged" in lines[0]
    assert lines[0].endswith("\\r\\u2028\\x1b[31m")
    # The traceback's lines are indented, its message escaped like any other.
    assert all(line.startswith("    ") for line in lines[2:]) and len(lines) > 3


def test_messages_are_cut_to_a_bound(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO", "replica-1")
    try:
        logging.getLogger("x").warning("name %s", "n" * 100_000)
        line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        logging.getLogger().handlers.clear()
    assert len(line["message"]) == MAX_MESSAGE_CHARS and line["message"].endswith("…")
