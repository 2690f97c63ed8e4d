"""Every client's connection options come from one place (clients.connection_options): where
the brokers are, the security protocol, the TLS context (the CA, hostname checking, a client
certificate) and the SASL credentials, so no client can miss them."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from service.kafka.clients import connection_options, make_data_consumer, make_producer
from service.kafka.probe import connection_problem
from service.settings import Settings


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as a CA and as a client certificate."""
    where = tmp_path_factory.mktemp("pem")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_plaintext_says_where_and_nothing_else() -> None:
    options = connection_options(Settings(bootstrap_servers="k1:9092,k2:9092"))
    assert options == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}


def test_tls_verifies_against_the_ca_by_host_name(pem: tuple[Path, Path]) -> None:
    cert, _ = pem
    options = connection_options(
        Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(cert))
    )
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(
        c.get("subject") == ((("commonName", "localhost"),),) for c in context.get_ca_certs()
    )


def test_hostname_checking_can_be_turned_off_and_a_client_certificate_shown(
    pem: tuple[Path, Path],
) -> None:
    cert, key = pem
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(cert),
        kafka_ssl_certfile=str(cert),
        kafka_ssl_keyfile=str(key),
        kafka_ssl_check_hostname=False,
    )
    context = connection_options(settings)["ssl_context"]
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_gives_the_mechanism_and_the_credentials() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="scorer",
        kafka_sasl_password="pa55",
    )
    options = connection_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("scorer", "pa55")
    assert "ssl_context" not in options


async def test_the_clients_take_them() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="scorer",
        kafka_sasl_password="pa55",
    )
    producer, consumer = make_producer(settings), make_data_consumer(settings)
    try:
        for client in (producer.client, consumer._client):
            assert client._security_protocol == "SASL_PLAINTEXT"
            assert client._sasl_mechanism == "PLAIN"
            assert client._sasl_plain_username == "scorer"
    finally:
        await producer.stop()
        await consumer.stop()


async def test_the_probe_names_what_stopped_it() -> None:
    port = closed_port()
    problem = await connection_problem(Settings(bootstrap_servers=f"127.0.0.1:{port}"))
    assert problem is not None
    assert problem.startswith(f"127.0.0.1:{port}: ConnectionRefusedError")


async def test_the_probe_names_a_tls_handshake_that_fails(pem: tuple[Path, Path]) -> None:
    """A listener that is not TLS at all: the handshake fails, and the probe says so."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 400 no\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cert, _ = pem
    settings = Settings(
        bootstrap_servers=f"127.0.0.1:{port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(cert),
    )
    async with server:
        problem = await connection_problem(settings, timeout_s=5)
    assert problem is not None and problem.startswith(f"127.0.0.1:{port}: ")
    assert "SSL" in problem or "ssl" in problem, problem


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
