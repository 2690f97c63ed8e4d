"""The dashboard page at ``/``. Without a broker: the page and its two assets are served
(and nothing else under /static). On the real broker: a service that scored wine records and
dead-lettered bad ones, rendered by headless Chromium; the DOM it settles on shows the model,
the totals of ``/stats`` to the record, the dead letters by reason and no section
"unavailable". A screenshot is kept in ``test-output/<test name>/`` for a human to look at."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
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
from tests.kafka_helpers import produce, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import http, publish_forest, wine_records

REPO = Path(__file__).resolve().parents[2]
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
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


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Element] = []
        self.parts: list[str] = []  # its text and its descendants'

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def descendants(self) -> list[Element]:
        return [d for c in self.children for d in (c, *c.descendants())]

    def cells(self) -> list[str]:
        return [c.text for c in self.children if c.tag == "td"]


class Dom(HTMLParser):
    """The dumped DOM as a tree of elements (enough of one for these checks)."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}
    )

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.stack = [Element("#document", {})]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.parts.append(data)

    def find(self, **attrs: str) -> list[Element]:
        """Elements with these attributes (``data_model`` for ``data-model``)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements if all(e.attrs.get(k) == v for k, v in wanted.items())]

    def one(self, **attrs: str) -> Element:
        found = self.find(**attrs)
        assert len(found) == 1, f"{attrs}: {len(found)} elements"
        return found[0]


def chromium_or_skip() -> str:
    for name in CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not installed: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI installs it (.ci/run): missing there is a broken machine
    pytest.skip(message)


async def run_chromium(chromium: str, profile: Path, url: str, *flags: str) -> bytes:
    """Headless Chromium on ``url``: ``--virtual-time-budget`` lets the page's timers (and so
    a few of its 2.5 s refreshes) run in virtual time, waiting on its real fetches. Run as a
    subprocess of the event loop, which also serves the page."""
    process = await asyncio.create_subprocess_exec(
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1366,900",
        "--virtual-time-budget=8000",
        *flags,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (answer := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not met in {timeout_s}s: last {answer!r}")
        await asyncio.sleep(0.1)
    return answer


async def get(service: Service, path: str) -> dict[str, Any]:
    async with http(service) as client:
        answer = await client.get(path)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def output_folder(request: pytest.FixtureRequest) -> Path:
    """``test-output/<test name>/`` at the repository root (git-ignored), kept after the run."""
    folder = REPO / "test-output" / str(request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
        (b"missing", orjson.dumps({"dataType": "wine", **{**good, "alcohol": None}})),
        (b"text", orjson.dumps({"dataType": "wine", **{**good, "pH": "acid"}})),
    ]
    await produce(s.bootstrap_servers, s.data_topics[0], bad)
    await read_until(s.bootstrap_servers, s.dlq_topic, lambda r: len(r) >= len(bad))

    async def settled() -> bool:
        """/stats has every record, /cluster this instance, and /timeline three samples
        (two differences: a line to draw), the last after the traffic. One every 5 s."""
        stats = await get(service, "/stats")
        cluster = await get(service, "/cluster")
        samples = (await get(service, "/timeline"))["samples"]
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
    stats = await get(service, "/stats")  # traffic has stopped: what the page showed
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
