"""supervisor/app.py as it was before the documents it adds were typed (the ``workers`` lists
beside merged ``/stats`` and ``/state``, ``/snapshot``'s ``{"instance", "workers"}``,
``/health/ready``'s merge, ``/timeline`` through the untyped ``merge_timelines``), kept
verbatim: the oracle the typed supervisor's answers are compared with, byte for byte, over
the same workers' answers."""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from service.cluster.snapshot import StatsSnapshot
from service.http.app import PROMETHEUS_CONTENT_TYPE, OrjsonResponse
from service.http.body_limit import DEFAULT_MAX_REQUEST_BYTES, BodyLimit
from service.http.dashboard import add_dashboard
from service.state.merge import merge_states, merge_stats
from service.state.shapes import encode
from service.supervisor.exposition import MonotonicExposition
from service.supervisor.worker_clients import Answer, WorkerClients
from tests.state.legacy_timeline import merge_timelines

log = logging.getLogger(__name__)

HOP_HEADERS = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_supervisor_app(
    workers: WorkerClients, instance: str, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> FastAPI:
    app = FastAPI(title="modelserve", default_response_class=OrjsonResponse)
    # Bodies are bounded here too: the supervisor holds a body whole before passing it on.
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)
    started = time.monotonic()
    expositions = MonotonicExposition()
    add_dashboard(app)

    async def snapshots() -> tuple[list[Read], list[dict[str, Any]]]:
        """The answering workers' snapshots, and a line for each that did not answer (or
        answered something that is not a snapshot)."""
        answers = await workers.all("/snapshot")
        found, missing = [], _missing(answers)
        for answer in answers:
            if answer.ok and answer.response is not None:
                document = answer.response.json()
                try:
                    found.append(Read(document, StatsSnapshot.model_validate(document)))
                except ValidationError as exc:
                    missing.append({"worker": answer.worker, "error": _unreadable(exc)})
        return found, missing

    @app.get("/stats")
    async def get_stats() -> dict[str, Any]:
        found, missing = await snapshots()
        merged = encode(merge_stats([s.snapshot.stats for s in found]))
        merged["uptime"] = round(time.monotonic() - started, 3)
        merged["workers"] = [
            {"worker": s.snapshot.worker, **encode(s.snapshot.stats)} for s in found
        ] + missing
        return merged

    @app.get("/state/{data_type}")
    async def get_state(data_type: str, request: Request, scope: str = "local") -> Response:
        if scope != "local":  # the cluster's figures: any worker reads them all
            return await forward(request)
        found, missing = await snapshots()
        parts = [
            (s.snapshot.worker, s.snapshot.states[data_type])
            for s in found
            if data_type in s.snapshot.states
        ]
        merged = merge_states([state for _, state in parts])
        if merged is None:
            raise HTTPException(404, f"no model is serving dataType {data_type!r}")
        workers_states = [
            {
                "worker": w,
                "name": state.name,
                "version": state.version,
                "usage": state.usage,
                "duration": state.duration,
            }
            for w, state in parts
        ]
        return OrjsonResponse({**encode(merged), "workers": workers_states + missing})

    @app.get("/timeline")
    async def get_timeline() -> dict[str, Any]:
        answers = await workers.all("/timeline")
        return merge_timelines([a.response.json() for a in answers if a.ok and a.response])

    @app.get("/snapshot")
    async def get_snapshot() -> dict[str, Any]:
        found, missing = await snapshots()
        return {"instance": instance, "workers": [s.document for s in found] + missing}

    @app.get("/metrics")
    async def get_metrics() -> Response:
        answers = await workers.all("/metrics")
        texts = {a.worker: a.response.text if a.ok and a.response else None for a in answers}
        return Response(expositions.merge(texts), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/health/live")
    async def live() -> Response:
        """The supervisor is live while it runs: it restarts a worker that dies."""
        answers = await workers.all("/health/live")
        states = [{"worker": a.worker, "live": a.ok} for a in answers]
        return OrjsonResponse({"live": True, "workers": states})

    @app.get("/health/ready")
    async def ready() -> Response:
        """Ready when every worker is: each holds a share of the partitions."""
        answers = await workers.all("/health/ready")
        checks = [a.response.json() if a.response else {"ready": False} for a in answers]
        keys = dict.fromkeys(k for c in checks for k in c if k != "ready")
        merged = {k: all(bool(c.get(k)) for c in checks) for k in keys}
        ok = all(bool(c.get("ready")) for c in checks)
        workers_ready = [{"worker": a.worker, **c} for a, c in zip(answers, checks, strict=True)]
        body = {"ready": ok, **merged, "workers": workers_ready}
        return OrjsonResponse(body, status_code=200 if ok else 503)

    @app.api_route("/{path:path}", methods=METHODS)
    async def forward(request: Request) -> Response:
        """Everything else, ``POST /predict`` included: to the next worker that answers. The
        path goes as it came (still percent-encoded), and so do repeated headers."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in HOP_HEADERS]
        try:
            body = await request.body()
        except ClientDisconnect:
            log.debug("client left during the body of %s %s", request.method, url)
            return Response(status_code=400)
        answer = await workers.any(workers.build(request.method, url, body, headers))
        if answer is None:
            raise HTTPException(503, "no worker answered")
        response = Response(answer.content, status_code=answer.status_code)
        for key, value in answer.headers.raw:
            if key.lower() not in HOP_HEADERS:
                response.raw_headers.append((key, value))
        return response

    return app


class Read(NamedTuple):
    """A worker's snapshot as it answered it (what ``/snapshot`` passes on), and typed (what
    is merged)."""

    document: dict[str, Any]
    snapshot: StatsSnapshot


def _unreadable(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[:1]
    return f"unreadable snapshot: {first}"


def _missing(answers: list[Answer]) -> list[dict[str, Any]]:
    return [
        {"worker": a.worker, "error": a.error or f"answered {_status(a)}"}
        for a in answers
        if not a.ok
    ]


def _status(answer: Answer) -> int | None:
    return answer.response.status_code if answer.response is not None else None
