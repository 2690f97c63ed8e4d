"""The server side of the SASL mechanisms a Kafka client may use against the front: PLAIN
(RFC 4616) and SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677).

Like a Kafka broker, the front keeps no SCRAM password, only what RFC 5802 derives from it
(salt, iterations, StoredKey, ServerKey), so the exchange is checked the way a broker does
and a client that computes its proof wrongly fails here as it would there."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Kafka refuses SCRAM credentials with fewer iterations than this.
SCRAM_ITERATIONS = 4096
_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class AuthenticationFailed(Exception):
    """A credential that does not hold, or a message that breaks the mechanism: the front
    answers SASL_AUTHENTICATION_FAILED with this text and closes."""


class Exchange(Protocol):
    """One client's authentication: tokens in, tokens out, until ``user`` is known."""

    user: str | None

    def step(self, token: bytes) -> bytes:
        """The answer to the client's ``token``; raises AuthenticationFailed."""
        ...


class Plain:
    """PLAIN is one message, ``authzid NUL user NUL password``; the answer is empty."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = users
        self.user: str | None = None

    def step(self, token: bytes) -> bytes:
        try:
            authzid, user, password = token.decode().split("\0")
        except ValueError as exc:
            raise AuthenticationFailed("Authentication failed: malformed PLAIN message") from exc
        known = self._users.get(user)
        if known is None or not hmac.compare_digest(known.encode(), password.encode()):
            raise AuthenticationFailed("Authentication failed: Invalid username or password")
        if authzid not in ("", user):  # Kafka, too, lets a user act only as itself
            raise AuthenticationFailed("Authentication failed: authorization id is not the user")
        self.user = user
        return b""


@dataclass(frozen=True)
class ScramCredential:
    """What a broker stores for a SCRAM user (RFC 5802, section 3)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def derive(cls, password: str, hash_name: str, salt: bytes | None = None) -> ScramCredential:
        """From the password, with a random salt unless one is given (a test vector's)."""
        salt = salt or secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, SCRAM_ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", hash_name)
        return cls(
            salt=salt,
            iterations=SCRAM_ITERATIONS,
            stored_key=hashlib.new(hash_name, client_key).digest(),
            server_key=hmac.digest(salted, b"Server Key", hash_name),
        )


def _attributes(message: str) -> dict[str, str]:
    """``a=1,b=2`` as a dict; a part without ``=`` breaks the message."""
    attributes: dict[str, str] = {}
    for part in message.split(","):
        name, equals, value = part.partition("=")
        if not equals:
            raise AuthenticationFailed("Authentication failed: malformed SCRAM message")
        attributes[name] = value
    return attributes


@dataclass(frozen=True)
class _ServerFirst:
    """What the second round needs from the first."""

    gs2_header: str
    messages: str  # client-first-bare "," server-first: the start of the AuthMessage
    nonce: str
    user: str
    credential: ScramCredential


class Scram:
    """Two rounds: client-first → server-first (nonce, salt, iterations), then client-final
    (the proof) → server-final (the server's signature, so the client knows the server too)."""

    def __init__(
        self,
        hash_name: str,
        credentials: Mapping[str, ScramCredential],
        server_nonce: str | None = None,
    ) -> None:
        self._hash = hash_name
        self._credentials = credentials
        # Random, unless a test vector gives it: the client's nonce is extended with it.
        self._server_nonce = server_nonce or secrets.token_urlsafe(18)
        self._first: _ServerFirst | None = None
        self.user: str | None = None

    def step(self, token: bytes) -> bytes:
        try:
            if self._first is None:
                return self._server_first(token.decode())
            return self._server_final(self._first, token.decode())
        except ValueError as exc:  # not UTF-8, or a proof that is not base64
            raise AuthenticationFailed("Authentication failed: malformed SCRAM message") from exc

    def _server_first(self, client_first: str) -> bytes:
        cbind, _, rest = client_first.partition(",")
        authzid, _, bare = rest.partition(",")
        if cbind not in ("n", "y"):  # "p=…" asks for channel binding, which is not offered
            raise AuthenticationFailed("Authentication failed: unsupported GS2 header")
        attributes = _attributes(bare)
        name = attributes.get("n", "")
        user = name.replace("=2C", ",").replace("=3D", "=")
        credential = self._credentials.get(user)
        if credential is None or "r" not in attributes or "m" in attributes:
            raise AuthenticationFailed("Authentication failed: Invalid user credentials")
        if authzid not in ("", f"a={name}"):  # Kafka, too, lets a user act only as itself
            raise AuthenticationFailed("Authentication failed: authorization id is not the user")
        nonce = attributes["r"] + self._server_nonce
        salt = base64.b64encode(credential.salt).decode()
        server_first = f"r={nonce},s={salt},i={credential.iterations}"
        self._first = _ServerFirst(
            f"{cbind},{authzid},", f"{bare},{server_first}", nonce, user, credential
        )
        return server_first.encode()

    def _server_final(self, first: _ServerFirst, client_final: str) -> bytes:
        without_proof, _, proof_text = client_final.rpartition(",p=")
        attributes = _attributes(without_proof)
        if attributes.get("c") != base64.b64encode(first.gs2_header.encode()).decode():
            raise AuthenticationFailed("Authentication failed: channel binding does not match")
        if attributes.get("r") != first.nonce:
            raise AuthenticationFailed("Authentication failed: nonce does not match")
        auth_message = f"{first.messages},{without_proof}".encode()
        signature = hmac.digest(first.credential.stored_key, auth_message, self._hash)
        proof = base64.b64decode(proof_text, validate=True)
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if len(proof) != len(signature) or not hmac.compare_digest(
            hashlib.new(self._hash, client_key).digest(), first.credential.stored_key
        ):
            raise AuthenticationFailed("Authentication failed: Invalid user credentials")
        self.user = first.user
        server_signature = hmac.digest(first.credential.server_key, auth_message, self._hash)
        return b"v=" + base64.b64encode(server_signature)


class Authenticator:
    """The users and mechanisms a front takes; a fresh Exchange for every connection."""

    def __init__(self, users: Mapping[str, str], mechanisms: tuple[str, ...] = MECHANISMS):
        unknown = set(mechanisms) - set(MECHANISMS)
        if unknown:
            raise ValueError(f"no server side for {sorted(unknown)}")
        self.mechanisms = mechanisms
        self._users = dict(users)
        self._scram = {
            mechanism: {
                user: ScramCredential.derive(password, _HASHES[mechanism])
                for user, password in users.items()
            }
            for mechanism in mechanisms
            if mechanism in _HASHES
        }

    def exchange(self, mechanism: str) -> Exchange:
        if mechanism == "PLAIN":
            return Plain(self._users)
        return Scram(_HASHES[mechanism], self._scram[mechanism])
