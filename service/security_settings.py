"""How every Kafka client of the service reaches a secured Kafka: TLS (a CA, a client
certificate for mutual TLS, hostname checking) and SASL (PLAIN or SCRAM). A base of
settings.Settings, so each field is an environment variable ``MODELSERVE_KAFKA_<NAME>``.

Settings that contradict each other (a CA file for PLAINTEXT, a mechanism without a
username, a file that is not there) are refused when the settings are read, with one line
naming the variables, so a misconfigured replica stops at once instead of retrying a
connection that can never work. The password is a SecretStr: it prints as ``**********``,
and the refusals never echo a value (describe_settings_error)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PREFIX = "MODELSERVE_"


class KafkaSecurity(BaseSettings):
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_ssl_cafile: str | None = Field(
        None, description="CA bundle (PEM) that signs the brokers' certificates."
    )
    kafka_ssl_certfile: str | None = Field(
        None, description="Client certificate (PEM), for brokers that ask for one (mutual TLS)."
    )
    kafka_ssl_keyfile: str | None = Field(
        None, description="The client certificate's private key (PEM), if not in the certfile."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Whether a broker's certificate must name the host connected to."
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)."
    )
    kafka_sasl_username: str | None = Field(None, description="The SASL user.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="The SASL password: never logged, shown or published."
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        problem = security_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")


def env(field: str) -> str:
    return PREFIX + field.upper()


def security_problem(s: KafkaSecurity) -> str | None:
    """The first contradiction in ``s``, as one line naming the variables; None when it
    holds together. Values are never quoted but file paths (which are not secrets)."""
    protocol = f"{env('kafka_security_protocol')} is {s.kafka_security_protocol}"
    tls_files = {
        "kafka_ssl_cafile": s.kafka_ssl_cafile,
        "kafka_ssl_certfile": s.kafka_ssl_certfile,
        "kafka_ssl_keyfile": s.kafka_ssl_keyfile,
    }
    if not s.kafka_uses_tls:
        named = [env(name) for name, value in tls_files.items() if value]
        if not s.kafka_ssl_check_hostname:
            named.append(env("kafka_ssl_check_hostname"))
        if named:
            return f"{_listed(named)} TLS, but {protocol} (use SSL or SASL_SSL)"
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:
        key, cert = env("kafka_ssl_keyfile"), env("kafka_ssl_certfile")
        return f"{key} is the key of a client certificate: set {cert} too"
    for name, path in tls_files.items():
        if path and not os.access(path, os.R_OK):
            why = "does not exist" if not os.path.exists(path) else "is not readable"
            return f"{env(name)}: {path} {why}"
    sasl = {
        "kafka_sasl_mechanism": s.kafka_sasl_mechanism,
        "kafka_sasl_username": s.kafka_sasl_username,
        "kafka_sasl_password": s.kafka_sasl_password,
    }
    if not s.kafka_uses_sasl:
        named = [env(name) for name, value in sasl.items() if value is not None]
        if named:
            return f"{_listed(named)} SASL, but {protocol} (use SASL_SSL or SASL_PLAINTEXT)"
        return None
    missing = [env(name) for name, value in sasl.items() if value is None]
    if missing:
        return f"{protocol}: set {', '.join(missing)} too"
    return None


def _listed(names: list[str]) -> str:
    return f"{', '.join(names)} {'needs' if len(names) == 1 else 'need'}"


def describe_settings_error(exc: ValidationError) -> str:
    """One line for refused settings, naming each variable and what is wrong with it, never
    the value given (it may be the password)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{env(where)}: {message}" if where else message)
    return "settings refused: " + "; ".join(parts)


class SettingsError(ValueError):
    """Settings that cannot run, in one line that names no secret. Raised ``from None``: the
    pydantic error it replaces quotes every input, the password among them."""


def refused(exc: ValidationError) -> SettingsError:
    return SettingsError(describe_settings_error(exc))
