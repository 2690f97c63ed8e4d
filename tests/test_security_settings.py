"""How to reach a secured Kafka, as settings: what holds together is accepted, what
contradicts itself is refused in one line naming the variables, and the password shows
nowhere: not in the settings' repr, not in a refusal, whatever else is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from service.security_settings import describe_settings_error, refused
from service.settings import Settings

SASL = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "scorer",
    "kafka_sasl_password": "s3cr3t-Pa55",
}


def refusal(**fields: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**fields)  # type: ignore[arg-type]
    return describe_settings_error(caught.value)


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    settings = Settings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert not settings.kafka_uses_tls and not settings.kafka_uses_sasl


def test_sasl_over_tls_with_a_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    settings = Settings(**SASL, kafka_ssl_cafile=str(ca))  # type: ignore[arg-type]
    assert settings.kafka_uses_tls and settings.kafka_uses_sasl
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "s3cr3t-Pa55"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())


def test_names_are_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSERVE_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")
    monkeypatch.setenv("MODELSERVE_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("MODELSERVE_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("MODELSERVE_KAFKA_SASL_PASSWORD", "p")
    settings = Settings()
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kafka_ssl_cafile": "/etc/hosts"}, "MODELSERVE_KAFKA_SSL_CAFILE needs TLS"),
        ({"kafka_ssl_check_hostname": False}, "MODELSERVE_KAFKA_SSL_CHECK_HOSTNAME needs TLS"),
        ({"kafka_sasl_username": "u"}, "MODELSERVE_KAFKA_SASL_USERNAME needs SASL"),
        (
            {"kafka_security_protocol": "SSL", "kafka_sasl_mechanism": "PLAIN"},
            "MODELSERVE_KAFKA_SASL_MECHANISM needs SASL",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"},
            "set MODELSERVE_KAFKA_SASL_USERNAME, MODELSERVE_KAFKA_SASL_PASSWORD too",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
            "set MODELSERVE_KAFKA_SASL_MECHANISM, MODELSERVE_KAFKA_SASL_PASSWORD too",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/hosts"},
            "set MODELSERVE_KAFKA_SSL_CERTFILE too",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"},
            "MODELSERVE_KAFKA_SSL_CAFILE: /no/such/ca.pem does not exist",
        ),
        ({"kafka_security_protocol": "TLS"}, "MODELSERVE_KAFKA_SECURITY_PROTOCOL: Input should"),
        (
            {**SASL, "kafka_sasl_mechanism": "GSSAPI"},
            "MODELSERVE_KAFKA_SASL_MECHANISM: Input should",
        ),
    ],
)
def test_what_contradicts_itself_is_refused_in_one_line(
    fields: dict[str, object], named: str
) -> None:
    line = refusal(**fields)
    assert named in line, line
    assert line.startswith("settings refused: ") and "\n" not in line


@given(
    # Of characters no refusal is written in, so that finding it can only mean it leaked.
    password=st.text(alphabet="0123456789#@%&*~", min_size=6, max_size=40),
    protocol=st.sampled_from(["PLAINTEXT", "SSL", "SASL_SSL", "bogus"]),
    mechanism=st.sampled_from([None, "PLAIN", "bogus"]),
)
def test_the_password_is_in_no_refusal(password: str, protocol: str, mechanism: str | None) -> None:
    """Whatever is wrong beside it; pydantic's own text would quote it (refused() replaces it)."""
    fields: dict[str, object] = {
        "kafka_security_protocol": protocol,
        "kafka_sasl_password": password,
        "kafka_ssl_cafile": "/no/such/file",
    }
    if mechanism is not None:
        fields["kafka_sasl_mechanism"] = mechanism
    with pytest.raises(ValidationError) as caught:
        Settings(**fields)  # type: ignore[arg-type]
    assert password not in describe_settings_error(caught.value)
    assert password not in str(refused(caught.value))
