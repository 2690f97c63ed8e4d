"""What the end-to-end tests on the broker share: publishing a model and waiting for the
service's verdict, wine records, an HTTP client."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from service.server import Service
from service.settings import Settings
from service.tools.publishing import build_descriptor, publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.models import ModelFiles


async def publish_and_wait(
    settings: Settings, path: Path, name: str, data_type: str = "wine", **kw: Any
) -> dict[str, Any]:
    descriptor = build_descriptor(path, name, data_type, **kw)
    offset = await publish(settings, descriptor)
    event = await wait_for_event(settings, name, offset, timeout_s=60)
    assert event is not None, f"no event for {name}"
    return event


async def publish_forest(settings: Settings, files: ModelFiles, **kw: Any) -> dict[str, Any]:
    return await publish_and_wait(
        settings,
        files.forest_onnx,
        "wine-rf",
        inputs=list(WINE_FIELDS),
        labels=files.forest_classes,
        **kw,
    )


def wine_records(
    features: np.ndarray, prefix: str, start: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            f"{prefix}{start + i}",
            {"dataType": "wine", **dict(zip(WINE_FIELDS, map(float, row), strict=True))},
        )
        for i, row in enumerate(features)
    ]


def http(service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}", timeout=10)


async def until(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any],
    timeout_s: float = 30.0,
    pause_s: float = 0.1,
    what: str = "condition",
) -> Any:
    """The first truthy answer of ``check`` (a plain or an async function), asked every
    ``pause_s``; fails at the deadline naming ``what`` was awaited and the last answer (a
    condition polled, never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met in {timeout_s}s; last {answer!r}")
        await asyncio.sleep(pause_s)


async def get_json(service: Service, path: str) -> dict[str, Any]:
    """``GET path`` on the service, which must answer 200."""
    async with http(service) as client:
        answer = await client.get(path)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())
