"""The CLI when it cannot run: settings that contradict each other end it with 2 and one line
that names the variables but never the password; a Kafka it cannot reach ends it with 1 and
one line that says why (the probe's answer, not "Unable to bootstrap")."""

from __future__ import annotations

import socket

import pytest

from service.tools.cli import main

PASSWORD = "0#9@8%7&6*5~"


def test_contradicting_settings_exit_2_in_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELSERVE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MODELSERVE_KAFKA_SASL_PASSWORD", PASSWORD)
    assert main(["retire", "fraud"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("modelserve: settings refused: ")
    assert "MODELSERVE_KAFKA_SASL_MECHANISM" in err and PASSWORD not in err


def test_a_kafka_not_there_exits_1_saying_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MODELSERVE_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    assert main(["retire", "fraud"]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"modelserve: Kafka at 127.0.0.1:{port}: ")
    assert "ConnectionRefusedError" in line
