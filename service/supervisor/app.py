"""The container's one HTTP port under ``WORKERS=N``: the supervisor answers the contract for
all its workers. What each worker counts is merged from their snapshots (``/stats``,
``/state/{dataType}``, ``/timeline``) or expositions (``/metrics``), with each worker's own
figures beside the sum; health is every worker's; what every worker answers alike (models,
routes, the cluster view, the Open Inference Protocol's metadata) comes from one of them;
``POST /predict`` and ``POST /v2/.../infer`` are passed to the workers in turn. The dashboard
page is served here too. A worker's answer is read into the state's types (a snapshot, a
timeline, a readiness) and merged as types (state/container.py, state/timeline.py,
state/health.py); a worker whose answer is not of its type is listed as missing (a snapshot),
left out (a timeline) or counted not ready, so the others still show."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from service.cluster.snapshot import ContainerSnapshot, StatsSnapshot
from service.http.app import PROMETHEUS_CONTENT_TYPE, OrjsonResponse
from service.http.body_limit import DEFAULT_MAX_REQUEST_BYTES, BodyLimit, is_oip_path
from service.http.dashboard import add_dashboard
from service.http.path_names import NamesInPaths, path_name
from service.state.container import Unanswered, container_state, container_stats
from service.state.health import Readiness, merge_readiness
from service.state.shapes import encode
from service.state.timeline import TimelineDocument, merge_timelines
from service.supervisor.exposition import MonotonicExposition
from service.supervisor.worker_clients import Answer, WorkerClients

log = logging.getLogger(__name__)

HOP_HEADERS = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_supervisor_app(
    workers: WorkerClients, instance: str, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> FastAPI:
    app = FastAPI(title="modelserve", default_response_class=OrjsonResponse)
    # Bodies are bounded here too: the supervisor holds a body whole before passing it on.
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)
    app.add_middleware(NamesInPaths)
    started = time.monotonic()
    expositions = MonotonicExposition()
    add_dashboard(app)

    async def snapshots() -> tuple[list[StatsSnapshot], list[Unanswered]]:
        """The answering workers' snapshots, and a line for each that did not answer (or
        answered something that is not a snapshot)."""
        answers = await workers.all("/snapshot")
        found, missing = [], _missing(answers)
        for answer in answers:
            if answer.ok and answer.response is not None:
                try:
                    found.append(StatsSnapshot.model_validate(answer.response.json()))
                except ValidationError as exc:
                    missing.append(Unanswered(worker=answer.worker, error=_unreadable(exc)))
        return found, missing

    @app.get("/stats")
    async def get_stats() -> dict[str, Any]:
        found, missing = await snapshots()
        parts = [(s.worker, s.stats) for s in found]
        return encode(container_stats(parts, missing, round(time.monotonic() - started, 3)))

    @app.get("/state/{data_type}")
    async def get_state(data_type: str, request: Request, scope: str = "local") -> Response:
        if scope != "local":  # the cluster's figures: any worker reads them all
            return await forward(request)
        data_type = path_name(data_type)
        found, missing = await snapshots()
        parts = [(s.worker, s.states[data_type]) for s in found if data_type in s.states]
        state = container_state(parts, missing)
        if state is None:
            raise HTTPException(404, f"no model is serving dataType {data_type!r}")
        return OrjsonResponse(encode(state))

    @app.get("/timeline")
    async def get_timeline() -> dict[str, Any]:
        """The instants every answering worker sampled; a worker whose answer is not a
        timeline is left out, as one that did not answer."""
        answers = await workers.all("/timeline")
        parts = []
        for answer in answers:
            if answer.ok and answer.response is not None:
                try:
                    parts.append(TimelineDocument.model_validate(answer.response.json()))
                except ValidationError as exc:
                    log.warning("worker %d's timeline left out: %s", answer.worker, exc)
        return encode(merge_timelines(parts))

    @app.get("/snapshot")
    async def get_snapshot() -> dict[str, Any]:
        found, missing = await snapshots()
        return encode(ContainerSnapshot(instance=instance, workers=[*found, *missing]))

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
        merged = merge_readiness([(a.worker, _readiness(a)) for a in answers])
        return OrjsonResponse(encode(merged), status_code=200 if merged.ready else 503)

    @app.get("/v2/health/live")
    async def oip_live() -> Response:
        """The Open Inference Protocol's liveness, with its body: the supervisor's own."""
        return OrjsonResponse({"live": True})

    @app.get("/v2/health/ready")
    async def oip_ready() -> Response:
        """Ready when every worker says so (each holds a share of the partitions)."""
        answers = await workers.all("/v2/health/ready")
        ready = bool(answers) and all(a.ok for a in answers)
        return OrjsonResponse({"ready": ready}, status_code=200 if ready else 503)

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
            if is_oip_path(request.url.path):  # the protocol's error, as the workers give it
                return OrjsonResponse({"error": "no worker answered"}, status_code=503)
            raise HTTPException(503, "no worker answered")
        response = Response(answer.content, status_code=answer.status_code)
        for key, value in answer.headers.raw:
            if key.lower() not in HOP_HEADERS:
                response.raw_headers.append((key, value))
        return response

    return app


def _unreadable(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[:1]
    return f"unreadable snapshot: {first}"


def _missing(answers: list[Answer]) -> list[Unanswered]:
    return [
        Unanswered(worker=a.worker, error=a.error or f"answered {_status(a)}")
        for a in answers
        if not a.ok
    ]


def _readiness(answer: Answer) -> Readiness:
    """What the worker answered, ready or not (a 503 says which checks failed); not ready
    when it did not answer, or answered what is not a readiness."""
    if answer.response is None:
        return Readiness(ready=False)
    try:
        return Readiness.model_validate(answer.response.json())
    except ValidationError:
        return Readiness(ready=False)


def _status(answer: Answer) -> int | None:
    return answer.response.status_code if answer.response is not None else None
