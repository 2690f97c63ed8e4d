"""The front's SCRAM server against RFC 7677's SCRAM-SHA-256 example, so that it is checked
by the standard and not only by aiokafka's client (which could share a misreading), and
against client-final messages that must fail."""

from __future__ import annotations

import base64

import pytest

from tests.kafka_front.sasl import AuthenticationFailed, Scram, ScramCredential

# RFC 7677, section 3: user "user", password "pencil".
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
NONCE = "rOprNGfwEbeRWgbNEkqO" + SERVER_NONCE
SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
SERVER_FIRST = f"r={NONCE},s={SALT},i=4096".encode()
PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
CLIENT_FINAL = f"c=biws,r={NONCE},p={PROOF}".encode()
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def rfc_server() -> Scram:
    credential = ScramCredential.derive("pencil", "sha256", base64.b64decode(SALT))
    return Scram("sha256", {"user": credential}, server_nonce=SERVER_NONCE)


def test_the_rfc_7677_exchange() -> None:
    server = rfc_server()

    assert server.step(CLIENT_FIRST) == SERVER_FIRST
    assert server.user is None
    assert server.step(CLIENT_FINAL) == SERVER_FINAL
    assert server.user == "user"


TAMPERED = {
    "proof": CLIENT_FINAL.replace(b"p=dHzb", b"p=dHzc"),
    "nonce": CLIENT_FINAL.replace(b"$k0", b"$k1"),
    "channel-binding": CLIENT_FINAL.replace(b"c=biws", b"c=eSws"),  # "y,," for "n,,"
    "proof-not-base64": CLIENT_FINAL.replace(PROOF.encode(), b"not base64!"),
    "no-proof": f"c=biws,r={NONCE}".encode(),
}


@pytest.mark.parametrize("client_final", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_client_final_fails(client_final: bytes) -> None:
    server = rfc_server()
    server.step(CLIENT_FIRST)

    with pytest.raises(AuthenticationFailed):
        server.step(client_final)
    assert server.user is None


def test_an_unknown_user_fails_at_the_first_message() -> None:
    with pytest.raises(AuthenticationFailed, match="Invalid user credentials"):
        rfc_server().step(b"n,,n=someone,r=rOprNGfwEbeRWgbNEkqO")
