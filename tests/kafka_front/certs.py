"""Certificates for the secured front, made with the ``openssl`` command line (the venv has no
``cryptography``): a test CA that signs the front's certificate (for 127.0.0.1 and localhost)
and a client certificate for mutual TLS, and a foreign CA that a client may wrongly trust.

EC keys (P-256) keep the whole set under a second to make; the certificates live two days,
long enough for any run and short enough not to matter if a directory is left behind."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_DAYS = ["-days", "2"]


@dataclass(frozen=True)
class Pki:
    """Where the files are: PEM certificates and their unencrypted keys."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    foreign_ca: Path

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        """The front's TLS: its certificate, and with ``require_client_cert`` a refusal of any
        client that does not show a certificate signed by the test CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.ca)
        return context


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        directory,
        "req", "-x509", *_KEY, *_DAYS,
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _make_leaf(directory: Path, name: str, ca: str, extensions: str) -> None:
    """A key and a certificate signed by ``ca``, with the X.509 ``extensions`` given (the
    names it is valid for, and whether it serves or identifies a client)."""
    _openssl(
        directory,
        "req", "-new", *_KEY,
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
    )  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        directory,
        "x509", "-req", "-in", f"{name}.csr", *_DAYS,
        "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
        "-extfile", f"{name}.ext", "-out", f"{name}.pem",
    )  # fmt: skip


def make_pki(directory: Path) -> Pki:
    _make_ca(directory, "test-ca")
    _make_ca(directory, "foreign-ca")
    _make_leaf(
        directory,
        "front",
        "test-ca",
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    _make_leaf(
        directory,
        "client",
        "test-ca",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    return Pki(
        ca=directory / "test-ca.pem",
        server_cert=directory / "front.pem",
        server_key=directory / "front.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        foreign_ca=directory / "foreign-ca.pem",
    )
