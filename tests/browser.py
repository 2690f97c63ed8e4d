"""Headless Chromium for the tests of the dashboard page: find it (skip without it, fail on
CI, where .ci/run installs it), run it on a URL, and read the DOM it settles on."""

from __future__ import annotations

import asyncio
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")


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


def output_folder(request: pytest.FixtureRequest) -> Path:
    """``test-output/<test name>/`` at the repository root (git-ignored), kept after the run."""
    folder = REPO / "test-output" / str(request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
