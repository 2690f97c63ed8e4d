import logging

import orjson
import pytest

from service.logs import configure_logging


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
