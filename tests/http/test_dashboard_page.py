"""The dashboard page at ``/``. Without a broker: the page and its two assets are served
(and nothing else under /static). On the real broker: a service that scored wine records and
dead-lettered bad ones, rendered by headless Chromium; the DOM it settles on shows the model,
the totals of ``/stats`` to the record, the dead letters by reason and no section
"unavailable". A screenshot is kept in ``test-output/<test name>/`` for a human to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from service.http.app import Health, create_app
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.server import Service
from service.wine import WINE_FIELDS
from tests.browser import Dom, chromium_or_skip, output_folder, run_chromium
from tests.kafka_helpers import produce, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import get_json, http, publish_forest, until, wine_records

INJECTED = '<img id="injected" src="x">'  # a description the page must show as text only
GOOD_RECORDS = 300


# --- without a broker -----------------------------------------------------------------------


def bare_client() -> httpx.AsyncClient:
    registry, metrics = Registry(), Metrics()
    app = create_app(
        registry,
        metrics,
        Engine(registry, metrics, None),
        Health(live=lambda: True, ready=lambda: {"controlCaughtUp": True}),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_the_page_and_only_its_assets_are_served() -> None:
    async with bare_client() as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'src="/static/dashboard.js"' in page.text
        assert 'href="/static/dashboard.css"' in page.text
        script = await client.get("/static/dashboard.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "innerHTML" not in script.text.replace("never innerHTML", "")
        style = await client.get("/static/dashboard.css")
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")
        for other in ("/static/other", "/static/index.html", "/static/..%2Fapp.py"):
            assert (await client.get(other)).status_code == 404, other


# --- rendered by Chromium, over a real service ------------------------------------------------


async def test_the_dashboard_shows_what_the_service_says(
    start_service: Any, model_files: ModelFiles, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    chromium = chromium_or_skip()
    service: Service = await start_service(stats_interval_s=0.5)
    s = service.settings
    expires = datetime.now(UTC) + timedelta(days=1)
    event = await publish_forest(s, model_files, description=INJECTED, expires_at=expires)
    assert event["status"] == "loaded", event

    await produce_json(
        s.bootstrap_servers,
        s.data_topics[0],
        wine_records(model_files.features[:GOOD_RECORDS], "k"),
    )
    await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= GOOD_RECORDS)
    good = dict(zip(WINE_FIELDS, map(float, model_files.features[0]), strict=True))
    bad = [
        (b"undecodable", b"\xff{not json"),
        (
            b"missing",
            orjson.dumps({"dataType": "wine", **{k: v for k, v in good.items() if k != "alcohol"}}),
        ),
        (b"text", orjson.dumps({"dataType": "wine", **{**good, "pH": "acid"}})),
    ]
    await produce(s.bootstrap_servers, s.data_topics[0], bad)
    await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= len(bad))
    tensor = {"name": "X", "datatype": "FP32", "shape": [1, 11], "data": [7.0] * 11}
    async with http(service) as client:
        for model in ("wine-rf", "wine-rf", "nope"):  # two answered, one refused
            await client.post(f"/v2/models/{model}/infer", json={"inputs": [tensor]})

    async def settled() -> bool:
        """/stats has every record, /cluster this instance, and /timeline three samples
        (two differences: a line to draw), the last after the traffic. One every 5 s."""
        stats = await get_json(service, "/stats")
        cluster = await get_json(service, "/cluster")
        samples = (await get_json(service, "/timeline"))["samples"]
        return (
            stats["consumed"] == GOOD_RECORDS + len(bad)
            and stats["dlq"] == len(bad)
            and cluster["alive"] == [s.instance_id]
            and len(samples) >= 3
            and samples[-1]["consumed"] == stats["consumed"]
        )

    await until(settled, timeout_s=40)
    url = f"http://127.0.0.1:{service.http_port}/"
    html = await run_chromium(chromium, tmp_path / "profile", url, "--dump-dom")
    stats = await get_json(service, "/stats")  # traffic has stopped: what the page showed
    dom = Dom(html.decode())
    (output_folder(request) / "dashboard.html").write_bytes(html)

    assert stats["scored"] == GOOD_RECORDS and stats["dlq"] == len(bad)
    for key in ("consumed", "scored", "dlq", "batches", "models"):
        shown = dom.one(id=f"stat-{key}")
        assert shown.text == shown.attrs["data-value"] == str(stats[key]), key
    assert dom.one(id="stat-lag").text == "0"

    row = dom.one(data_model="wine-rf")
    name, version, data_type, status, runtime, expiry, history = row.cells()
    assert (name, version, data_type, status) == (
        "wine-rf",
        str(event["version"]),
        "wine",
        "serving",
    )
    assert row.attrs["data-status"] == "serving"
    assert runtime.startswith("onnxruntime ") and expiry != "—"
    assert history == f"v{event['version']} serving"
    assert dom.find(id="injected") == []  # the description is an attribute's text, not markup
    assert dom.one(**{"class": "name", "title": INJECTED}).text == "wine-rf"

    reasons = {e.attrs["data-reason"]: e.cells() for e in dom.elements if "data-reason" in e.attrs}
    assert stats["deadLetters"] == {"decode-error": 1, "invalid-record": 2}
    assert reasons == {k: [k, str(n)] for k, n in stats["deadLetters"].items()}

    assert dom.one(data_protocol="rest").cells() == ["rest", "2", "1"]
    assert dom.one(data_protocol="kafka").cells() == ["kafka", "0", "0"]
    assert dom.one(id="instance").text == s.instance_id
    assert dom.one(id="health").text == "ready"
    assert dom.one(data_instance=str(s.instance_id)).cells()[1] == "alive"
    assert dom.one(id="routes").attrs.get("hidden") is not None  # no route declared
    notes = [e for e in dom.elements if e.attrs.get("class") == "unavailable"]
    assert notes and all("hidden" in e.attrs for e in notes), [e.text for e in notes]
    for chart in ("chart-throughput", "chart-latency"):
        lines = [e.attrs["d"] for e in dom.one(id=chart).descendants() if e.tag == "path"]
        assert any(" L" in d for d in lines), (chart, lines)

    screenshot = output_folder(request) / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    await run_chromium(chromium, tmp_path / "profile", url, f"--screenshot={screenshot}")
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000, len(png)
