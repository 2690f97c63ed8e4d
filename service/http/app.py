"""FastAPI app over the service's state. Built by ``create_app`` from the objects it shows, so
nothing here is global and tests can build one over any state."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from service.clock import utcnow
from service.cluster.stats_part import ClusterStats
from service.cluster.timeline import Timeline
from service.errors import InvalidRecordError, NoModelError
from service.http.body_limit import DEFAULT_MAX_REQUEST_BYTES, BodyLimit
from service.http.cluster_views import add_cluster_routes, cluster_state
from service.http.dashboard import add_dashboard
from service.http.oip_routes import add_oip_routes
from service.http.path_names import NamesInPaths, path_name
from service.http.views import (
    all_routes,
    model_info,
    model_infos,
    process_stats,
    route_info,
    serving_state,
)
from service.metrics import Metrics
from service.oip.inference import Inference
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.scoring.predictions import request_answer
from service.scoring.records import own_id
from service.state.health import Readiness
from service.state.shapes import encode
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_PREDICT_RECORDS = 10_000


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass
class Health:
    """Readiness is a function so it always reflects the consumers' real state."""

    live: Callable[[], bool]
    ready: Callable[[], dict[str, bool]]
    problem: Callable[[], str | None] = lambda: None  # why not ready, when known
    # REMOTE models' servers that do not answer (named by /health/ready; still ready).
    endpoints_down: Callable[[], list[str]] = list


def create_app(
    registry: Registry,
    metrics: Metrics,
    engine: Engine,
    health: Health,
    cluster: ClusterStats | None = None,
    timeline: Timeline | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    inference: Inference | None = None,
) -> FastAPI:
    app = FastAPI(title="modelserve", default_response_class=OrjsonResponse)
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes)
    app.add_middleware(NamesInPaths)
    add_dashboard(app)
    if inference is not None:
        add_oip_routes(app, inference, max_json_depth, max_request_bytes)
    if cluster is not None and timeline is not None:
        add_cluster_routes(app, cluster, timeline)

    @app.get("/models")
    async def list_models() -> dict[str, Any]:
        return {"models": model_infos(registry)}

    @app.get("/models/{name}")
    async def get_model(name: str) -> dict[str, Any]:
        name = path_name(name)
        info = model_info(registry, name, with_history=True)
        if info is None:
            raise HTTPException(404, f"unknown model {name!r}")
        return info

    @app.get("/state/{data_type}")
    async def get_state(
        data_type: str, scope: Literal["local", "cluster"] = "local"
    ) -> dict[str, Any]:
        """This process's stats, or (``scope=cluster``) every alive instance's, merged from
        their last snapshots."""
        data_type = path_name(data_type)
        if scope == "cluster":
            if cluster is None:
                raise HTTPException(404, "this process has no cluster view")
            state = cluster_state(cluster.snapshots(), utcnow(), data_type)
        else:
            state = serving_state(registry, data_type)
        if state is None:
            raise HTTPException(404, f"no model is serving dataType {data_type!r}")
        return state

    @app.get("/routes")
    async def list_routes() -> dict[str, Any]:
        return {"routes": all_routes(registry)}

    @app.get("/routes/{data_type}")
    async def get_route(data_type: str) -> dict[str, Any]:
        data_type = path_name(data_type)
        info = route_info(registry, data_type)
        if info is None:
            raise HTTPException(404, f"no route for dataType {data_type!r}")
        return info

    @app.get("/stats")
    async def get_stats() -> dict[str, Any]:
        return process_stats(metrics, registry)

    @app.get("/metrics")
    async def get_metrics() -> Response:
        return Response(metrics.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/health/live")
    async def live() -> Response:
        ok = health.live()
        return OrjsonResponse({"live": ok}, status_code=200 if ok else 503)

    @app.get("/health/ready")
    async def ready() -> Response:
        checks = health.ready()
        ok = all(checks.values())
        readiness = Readiness(
            ready=ok,
            checks=checks,
            reason=None if ok else health.problem(),
            endpoints_down=health.endpoints_down(),
        )
        return OrjsonResponse(encode(readiness), status_code=200 if readiness.ready else 503)

    @app.post("/predict/{data_type}")
    async def predict(data_type: str, request: Request) -> Response:
        """One record (object) or many (array). What concerns the request as a whole is its
        status, for one record or many alike: 400 (not JSON, too deep, not records), 413 (too
        large or too many), 404 (no model serves the dataType). Then one record answers its
        prediction, or its error with 422 (bad record) / 500 (scoring); a list answers 200
        with one item per record, each a prediction or ``{"id", "error", "reason"}``. A
        record without an ``id`` is answered with ``"id": null``."""
        data_type = path_name(data_type)
        try:
            raw = await request.body()
        except ClientDisconnect:
            # The client went away mid-body: nobody is left to answer, and nothing was read.
            log.debug("client left during the body of POST /predict/%s", data_type)
            return Response(status_code=400)
        try:
            body = loads(raw, max_json_depth)
        except UnreadableJson as exc:
            raise HTTPException(400, f"body is {exc}") from None
        single = isinstance(body, dict)
        items = [body] if single else body
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise HTTPException(400, "body must be a JSON object or an array of objects")
        if len(items) > MAX_PREDICT_RECORDS:
            raise HTTPException(413, f"at most {MAX_PREDICT_RECORDS} records per request")
        if not engine.has_model(data_type):
            no_model = NoModelError(f"no model is serving dataType {data_type!r}")
            body = {"error": str(no_model), "reason": no_model.reason}
            return OrjsonResponse(body, status_code=404)
        # Scored as decoded here, and each answer written once, from the bytes of its result.
        outcomes = await engine.score_request(data_type, items)
        answers = [
            request_answer(outcome, _given_id(item))
            for item, outcome in zip(items, outcomes, strict=True)
        ]
        if not single:
            return Response(b"[" + b",".join(answers) + b"]", media_type="application/json")
        error = outcomes[0].error
        status = 200 if error is None else _ERROR_STATUS.get(error.reason, 422)
        return Response(answers[0], status_code=status, media_type="application/json")

    return app


# A single record's error as the request's status (a bad record is 422).
# A remote model's server that does not answer: unavailable now, for the client to try again.
_ERROR_STATUS = {"no-model": 404, "scoring-error": 500, "model-unavailable": 503}


def _given_id(item: dict[str, Any]) -> str | None:
    """The record's own ``id`` as its prediction shows it, or None when it gave none (or one
    it cannot have, which its error says): a request has no key or offset to stand in."""
    try:
        return own_id(item)
    except InvalidRecordError:
        return None
