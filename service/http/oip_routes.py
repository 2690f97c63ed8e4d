"""The Open Inference Protocol's REST face (``/v2``), over ``oip.inference.Inference``:
health with bodies (the ``kserve`` client reads them), server and model metadata, model
readiness, and inference, in JSON or with Triton's binary tensor data, the body compressed or
not. Every error is ``{"error": ...}`` with its status: 400 a bad request, 404 an unknown model
or version, 413 a body too large, 415 a compression not served, 503 not ready, 500 a model
that failed."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from service.http.content_encoding import decoded_body
from service.http.path_names import path_name
from service.oip.inference import EXTENSIONS, SERVER_NAME, Inference
from service.oip.messages import OipError
from service.oip.rest_codec import error_body, read_request, response_body

log = logging.getLogger(__name__)

HEADER_LENGTH = "inference-header-content-length"
JSON = "application/json"


def _json(document: object, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status, media_type=JSON)


def _error(exc: OipError) -> Response:
    return Response(error_body(exc.message), status_code=exc.status, media_type=JSON)


def add_oip_routes(
    app: FastAPI, inference: Inference, max_json_depth: int, max_body_bytes: int
) -> None:
    @app.exception_handler(OipError)
    async def oip_error(request: Request, exc: OipError) -> Response:
        return _error(exc)

    @app.get("/v2")
    async def server_metadata() -> Response:
        return _json(
            {"name": SERVER_NAME, "version": inference.server_version, "extensions": EXTENSIONS}
        )

    @app.get("/v2/health/live")
    async def server_live() -> Response:
        live = inference.live()
        return _json({"live": live}, 200 if live else 503)

    @app.get("/v2/health/ready")
    async def server_ready() -> Response:
        ready = inference.ready()
        return _json({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None) -> Response:
        return _json(inference.metadata(path_name(name), version).document())

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None) -> Response:
        name = path_name(name)
        ready = inference.model_ready(name, version)
        return _json({"name": name, "ready": ready}, 200 if ready else 503)

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        name = path_name(name)
        try:
            body = await request.body()
        except ClientDisconnect:
            log.debug("client left during the body of an infer request for %s", name)
            return Response(status_code=400)
        header = request.headers.get(HEADER_LENGTH)
        encoding = request.headers.get("content-encoding")
        answer = await inference.infer(
            name,
            version,
            # The header length counts the decompressed body, as Triton reads it.
            lambda: read_request(
                decoded_body(body, encoding, max_body_bytes),
                _header_length(header),
                max_json_depth,
            ),
            "rest",
        )
        content, json_length = response_body(answer)
        if json_length is None:
            return Response(content, media_type=JSON)
        return Response(
            content,
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(json_length)},
        )

    @app.api_route("/v2/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def unknown(rest: str) -> Response:
        return _error(OipError(404, f"no endpoint /v2/{rest}"))


def _header_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise OipError(400, "Inference-Header-Content-Length is not a number") from None
