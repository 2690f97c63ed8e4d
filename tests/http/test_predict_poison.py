"""Property-based: no request body can make ``POST /predict`` fail on the server (issue 18).

The HTTP app shares its process with the Kafka loops, so a body must never cost more than
its own answer: whatever a client sends, the answer is a client error (400 unreadable or too
deep, 413 too large, 422 unscorable, 404 no model) or a prediction, never a 5xx while the
model is fine; a body too large is refused whether it declares its length or is sent in
chunks; and the next good request is answered as if nothing had happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.wine import WINE_FIELDS
from tests.http.test_app import wine_app
from tests.models import ModelFiles

MAX_BYTES = 4096
CLIENT_ERRORS = {200, 400, 404, 413, 422}
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        alphabet=st.sampled_from('[]{}"\\\u0000\u202e') | st.characters(codec="utf-8"), max_size=10
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
raw_values = (
    st.integers(1, 1500).map(lambda k: b"[" * k + b"]" * k)
    | st.sampled_from([b"1e400", b"1e308", b"-1e308", b"9" * 400, b'"1e400"', b'"nan"', b"-0"])
    | st.sampled_from([b'"\xed\xa0\x80"', b'"\\ud800"', b'"' + b"9" * 1000 + b'"'])
    | json_values.map(orjson.dumps)
)


@pytest.fixture(scope="module")
def wine(model_files: ModelFiles) -> tuple[FastAPI, dict[str, float]]:
    app, _ = wine_app(model_files, max_request_bytes=MAX_BYTES)
    return app, dict(zip(WINE_FIELDS, model_files.features[0].tolist(), strict=True))


async def post(app: FastAPI, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/predict/wine", content=content)


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def answer(app: FastAPI, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    return asyncio.run(post(app, content))


def assert_good_still_answers(app: FastAPI, record: dict[str, float]) -> None:
    good = answer(app, orjson.dumps(record))
    assert good.status_code == 200, good.text
    assert good.json()["model"] == {"name": "rf", "version": 4}


def bodies(record: dict[str, float]) -> st.SearchStrategy[bytes]:
    def embedded(name: str, raw: bytes, many: bool) -> bytes:
        one = orjson.dumps(record)[:-1] + b',"' + name.encode() + b'":' + raw + b"}"
        return b"[" + one + b"," + orjson.dumps(record) + b"]" if many else one

    return (
        st.binary(max_size=300)
        | json_values.map(orjson.dumps)
        | st.lists(json_values, max_size=4).map(orjson.dumps)
        | st.builds(
            embedded,
            st.sampled_from(["alcohol", "pH", "id", "dataType", "x"]),
            raw_values,
            st.booleans(),
        )
        | st.integers(1, 1500).map(lambda k: b'{"a":' * k + b"1" + b"}" * k)
        | st.binary(min_size=MAX_BYTES + 1, max_size=MAX_BYTES + 300)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), chunked=st.booleans())
def test_no_body_answers_a_server_error(
    wine: tuple[FastAPI, dict[str, float]], data: st.DataObject, chunked: bool
) -> None:
    app, record = wine
    body = data.draw(bodies(record), "body")
    response = answer(app, chunks(body) if chunked else body)
    event(str(response.status_code))
    assert response.status_code in CLIENT_ERRORS, (response.status_code, response.text)
    document: Any = response.json()
    assert isinstance(document, dict | list)
    # The safety nets' words: a decoder or a route failed where nothing was foreseen.
    assert "could not be decoded" not in response.text
    assert "could not score it" not in response.text
    if len(body) > MAX_BYTES:
        assert response.status_code == 413
    assert_good_still_answers(app, record)


def test_a_body_nested_300_deep_is_a_bad_request(wine: tuple[FastAPI, dict[str, float]]) -> None:
    app, record = wine
    for body in (b"[" * 300 + b"]" * 300, b'{"a":' * 300 + b"1" + b"}" * 300):
        response = answer(app, body)
        assert response.status_code == 400, response.text
        assert "nested deeper" in response.json()["detail"]
    deep_feature = orjson.dumps(record)[:-1] + b',"pH":' + b"[" * 300 + b"]" * 300 + b"}"
    assert answer(app, deep_feature).status_code == 400
    assert_good_still_answers(app, record)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_refused(
    wine: tuple[FastAPI, dict[str, float]], chunked: bool
) -> None:
    app, record = wine
    # Valid JSON, a list of good records: only its size is wrong.
    body = orjson.dumps([record] * (MAX_BYTES // len(orjson.dumps(record)) + 2))
    assert len(body) > MAX_BYTES
    response = answer(app, chunks(body) if chunked else body)
    assert response.status_code == 413, response.text
    assert str(MAX_BYTES) in response.json()["detail"]
    # Just under the limit, both ways, it is answered.
    fits = orjson.dumps([record] * (MAX_BYTES // len(orjson.dumps(record)) - 1))
    assert len(fits) <= MAX_BYTES
    assert answer(app, chunks(fits, 300) if chunked else fits).status_code == 200
    assert_good_still_answers(app, record)
