"""A remote model's server over the Open Inference Protocol's REST API: one ``httpx.Client``
per endpoint (keep-alive connections reused across batches, HTTP/2 when the ``h2`` package
is there), redirects never followed (a redirect could leave MODELSERVE_ALLOWED_ENDPOINTS)."""

from __future__ import annotations

import importlib.util
import time
from typing import NamedTuple
from urllib.parse import quote

import httpx

from service.errors import sanitise
from service.oip.messages import InferRequest, InferResponse, ModelMetadata, OipError
from service.oip.rest_codec import metadata_of, read_response, request_body
from service.remote.calls import (
    MAX_ANSWER_BYTES,
    MAX_ANSWER_DEPTH,
    CallFailed,
    CallRefused,
)
from service.untrusted import UnreadableJson, loads

JSON = {"content-type": "application/json"}
# Answers that say the server, not the request, is the trouble now: time-out, too early, too
# many requests. They are failures (the records wait), never refusals (dead letters).
BUSY = frozenset((408, 425, 429))


class RestTransport:
    def __init__(self, url: str, timeout_s: float, concurrency: int) -> None:
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s  # the whole call's: httpx's bounds each read only
        self._client = httpx.Client(
            base_url=self._url,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            # As many connections kept as calls may be in flight: each reused, none opened
            # per batch.
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            http2=importlib.util.find_spec("h2") is not None,
        )

    def metadata(self, model: str, version: str | None) -> ModelMetadata:
        response = self._send("GET", _path(model, version), None)
        if response.status_code != 200:
            raise CallRefused(_refusal(response))
        try:
            return metadata_of(loads(response.content, MAX_ANSWER_DEPTH))
        except (OipError, UnreadableJson) as exc:
            raise CallRefused(f"the model's metadata: {exc}", "bad_answer") from None

    def ready(self, model: str, version: str | None) -> bool:
        # Any status but 200 is "not ready" (KServe answers 503, MLServer 400 or 404).
        answer = self._send("GET", f"{_path(model, version)}/ready", None, any_status=True)
        return answer.status_code == 200

    def infer(self, model: str, version: str | None, request: InferRequest) -> InferResponse:
        response = self._send("POST", f"{_path(model, version)}/infer", request_body(request))
        if response.status_code != 200:
            refusal = _refusal(response)
            if response.status_code == 404 or not self.ready(model, version):
                raise CallFailed(f"the model is not ready there ({refusal})")
            raise CallRefused(refusal)
        header = response.headers.get("inference-header-content-length")
        try:
            length = int(header) if header is not None else None
            return read_response(response.content, length, MAX_ANSWER_DEPTH)
        except (OipError, ValueError) as exc:
            raise CallRefused(f"the server's answer: {exc}", "bad_answer") from None

    def close(self) -> None:
        self._client.close()

    def _send(self, method: str, path: str, body: bytes | None, any_status: bool = False) -> Answer:
        """The answer of a 2xx or 4xx (or any, with ``any_status``); CallFailed for anything
        else (no answer, a time-out, 5xx, a redirect: not followed)."""
        try:
            with self._client.stream(
                method, path, content=body, headers=JSON if body is not None else None
            ) as response:
                deadline = time.monotonic() + self._timeout_s
                answer = Answer(response.status_code, response.headers, _body(response, deadline))
        except httpx.TimeoutException:
            raise CallFailed(f"{method} {path} timed out") from None
        except httpx.HTTPError as exc:
            raise CallFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        status = answer.status_code
        if any_status:
            return answer
        if status >= 500 or status < 200 or 300 <= status < 400 or status in BUSY:
            where = answer.headers.get("location")
            moved = f" (to {where!r}, not followed)" if where else ""
            raise CallFailed(f"{method} {path} answered {status}{moved}: {_message(answer)}")
        return answer


class Answer(NamedTuple):
    status_code: int
    headers: httpx.Headers
    content: bytes


def _body(response: httpx.Response, deadline: float) -> bytes:
    """The body, read up to MAX_ANSWER_BYTES (a server's answer is a batch's, never more) and
    by ``deadline``: a server that trickles bytes in keeps each read under httpx's time-out,
    not the call."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise CallRefused(f"answered {declared} bytes, more than modelserve reads", "bad_answer")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise CallRefused("answered more bytes than modelserve reads", "bad_answer")
        if time.monotonic() > deadline:
            raise CallFailed("the answer did not arrive within the time-out")
        chunks.append(chunk)
    return b"".join(chunks)


def _path(model: str, version: str | None) -> str:
    path = f"/v2/models/{quote(model, safe='')}"
    return f"{path}/versions/{quote(version, safe='')}" if version else path


def _refusal(response: Answer) -> str:
    return f"{response.status_code}: {_message(response)}"


def _message(response: Answer) -> str:
    """The server's reason: the protocol's ``{"error": ...}``, else the start of the body."""
    try:
        document = loads(response.content, MAX_ANSWER_DEPTH)
    except UnreadableJson:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return sanitise(document["error"])
    if isinstance(document, dict) and isinstance(document.get("detail"), str):
        return sanitise(document["detail"])  # FastAPI's (MLServer's) own errors
    return sanitise(response.content[:300].decode("utf-8", "replace")) or "(no message)"
