"""Names in paths: any printable name, percent-encoded into one segment, reaches its handler
as the client gave it, slashes and percent signs included."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from service.http.path_names import NamesInPaths, path_name, segment_escaped
from service.untrusted import is_model_name


def echo_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(NamesInPaths)

    @app.get("/models/{name}")
    async def model(name: str) -> dict[str, str]:
        return {"name": path_name(name)}

    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, version: str) -> dict[str, str]:
        return {"name": path_name(name), "version": version}

    @app.get("/other/{rest:path}")
    async def other(rest: str) -> dict[str, str]:
        return {"rest": rest}

    return app


async def ask(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


def test_lightbends_names_reach_their_handler() -> None:
    for name in ("data/optimized_WineQuality", "tensorflow saved model", "100%/a%2Fb"):
        answer = asyncio.run(ask("GET", f"/models/{quote(name, safe='')}"))
        assert answer.status_code == 200 and answer.json() == {"name": name}
    answer = asyncio.run(ask("POST", "/v2/models/data%2Fwine/versions/3/infer"))
    assert answer.json() == {"name": "data/wine", "version": "3"}
    # Paths that take no name are routed as they always were.
    assert asyncio.run(ask("GET", "/other/a%2Fb/c")).json() == {"rest": "a/b/c"}


def test_segments_are_decoded_one_by_one() -> None:
    assert segment_escaped(b"/models/data%2Fwine%25") == "/models/data%2Fwine%25"
    assert segment_escaped(b"/models/a%20b") == "/models/a b"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(is_model_name))
def test_every_name_a_descriptor_takes_is_reachable_by_its_path(name: str) -> None:
    answer = asyncio.run(ask("GET", f"/models/{quote(name, safe='')}"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": name}
