"""The dashboard page at ``/``: one HTML page, its script and its style, shipped in the
package (service/http/static/) and served by the service itself: no CDN, no build step. The
page reads the same HTTP answers as any client and refreshes itself."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

STATIC = files("service.http") / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def add_dashboard(app: FastAPI) -> None:
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)  # only the page's own files: no path from the request
        if media_type is None:
            raise HTTPException(404, f"no asset {name!r}")
        return Response(
            (STATIC / name).read_bytes(),
            media_type=media_type,
            headers={"Cache-Control": "no-cache"},
        )
