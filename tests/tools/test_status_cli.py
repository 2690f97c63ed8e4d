"""`modelserve status`: the tables rendered from fixed answers (a departed instance, a shadow
route, a pending one), an unreachable URL (one line on stderr, exit 2), and the command
against a real running service."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import orjson
import pytest

from service.tools.cli import main
from service.tools.status_cli import compact_partitions, render
from tests.models import ModelFiles
from tests.service_helpers import http, publish_forest


def _stats(consumed: int, scored: int, dlq: int, **extra: Any) -> dict[str, Any]:
    return {
        "consumed": consumed,
        "scored": scored,
        "dlq": dlq,
        "batches": 10,
        "batchedRecords": consumed,
        "avgBatchSize": consumed / 10,
        "scoringMs": 12.5,
        "deadLetters": {"no-model": dlq} if dlq else {},
        "models": 2,
        "uptime": 120.0,
        **extra,
    }


def _worker(worker: int | None, alive: bool) -> dict[str, Any]:
    return {"worker": worker, "pid": 4000 + (worker or 0), "alive": alive}


CLUSTER: dict[str, Any] = {
    "instance": "replica-a",
    "at": "2025-06-01T12:00:00+00:00",
    "instances": [
        {
            "instance": "replica-a",
            "state": "alive",
            "host": "host-a",
            "version": "0.5.0",
            "workers": [_worker(0, True), _worker(1, True)],
            "startedAt": "2025-06-01T11:58:00+00:00",
            "lastSeen": "2025-06-01T11:59:59.700000+00:00",
            "ageS": 0.3,
            "partitions": [
                {"topic": "wine-data", "partition": p, "lag": p, "worker": p % 2}
                for p in (0, 1, 2, 5)
            ],
            "lag": 8,
            "stats": _stats(1200, 1190, 10),
        },
        {
            "instance": "replica-b",
            "state": "departed",
            "host": "host-b",
            "version": "0.5.0",
            "workers": [_worker(None, False)],
            "startedAt": "2025-06-01T11:50:00+00:00",
            "lastSeen": "2025-06-01T11:57:55+00:00",
            "ageS": 125.0,
            "partitions": [{"topic": "wine-data", "partition": 3, "lag": 40, "worker": None}],
            "lag": 40,
            "stats": _stats(300, 300, 0),
        },
    ],
    "alive": ["replica-a"],
    "stopped": [],
    "departed": ["replica-b"],
    "totals": {**_stats(1200, 1190, 10), "lag": 8, "instances": 1},
    "partitions": [
        {"topic": "wine-data", "partition": p, "lag": p, "worker": p % 2, "instance": "replica-a"}
        for p in (0, 1, 2, 5)
    ],
}


def _model(name: str, version: int, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "dataType": "wine",
        "modelType": "ONNX",
        "description": "",
        "status": status,
        "since": "2025-06-01T11:58:30+00:00",
        "expiresAt": None,
        "sha256": "ab" * 32,
        "runtime": "onnxruntime 1.31.1" if status in ("serving", "standby") else None,
        "metadata": {},
        "error": None,
        **extra,
    }


MODELS = {
    "models": [
        _model("wine-rf", 3, "serving", expiresAt="2025-12-31T00:00:00Z"),
        _model("wine-lr", 2, "serving"),
        _model("wine-bad", 1, "failed", error="onnxruntime: invalid model"),
    ]
}

ROUTES = {
    "routes": [
        {
            "dataType": "wine",
            "status": "active",
            "route": {"kind": "route", "dataType": "wine", "mode": "shadow", "primary": "wine-rf"},
            "since": "2025-06-01T11:59:00+00:00",
            "waitingFor": [],
            "answering": {
                "mode": "shadow",
                "members": [{"name": "wine-rf", "version": 3}, {"name": "wine-lr", "version": 2}],
            },
            "stats": None,
        },
        {
            "dataType": "beer",
            "status": "pending",
            "route": {"kind": "route", "dataType": "beer", "mode": "ensemble"},
            "since": None,
            "waitingFor": ["beer-a", "beer-b"],
            "answering": None,
            "stats": None,
            "lastRejected": {"route": {}, "error": "unknown mode", "at": "2025-06-01T11:00:00Z"},
        },
    ]
}


def _section(text: str, title: str) -> list[str]:
    """The lines under a section's title, up to the blank line that ends it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start + 1 : end]


def _row(lines: list[str], first: str) -> list[str]:
    return next(line.split() for line in lines if line.split()[:1] == [first])


def test_render_shows_models_routes_instances_partitions_and_totals() -> None:
    text = render(CLUSTER, MODELS, ROUTES)

    models = _section(text, "MODELS")
    assert models[0].split() == ["NAME", "VERSION", "DATATYPE", "STATUS", "RUNTIME", "EXPIRES"]
    assert _row(models, "wine-rf") == [
        "wine-rf", "3", "wine", "serving", "onnxruntime", "1.31.1", "2025-12-31T00:00:00Z"
    ]  # fmt: skip
    assert _row(models, "wine-bad")[:5] == ["wine-bad", "1", "wine", "failed", "-"]
    assert "  ! wine-bad: onnxruntime: invalid model" in models

    routes = _section(text, "ROUTES")
    assert _row(routes, "wine") == ["wine", "active", "shadow", "wine-rf:3,wine-lr:2", "-"]
    assert _row(routes, "beer") == ["beer", "pending", "ensemble", "-", "beer-a,beer-b"]
    assert any("beer: last route rejected" in line and "unknown mode" in line for line in routes)

    instances = _section(text, "INSTANCES")
    assert "INSTANCES (as seen by replica-a at 2025-06-01T12:00:00+00:00)" in text.splitlines()
    assert _row(instances, "replica-a") == [
        "replica-a", "alive", "2/2", "wine-data/0-2,5", "8", "1200", "1190", "10", "0.3s", "ago"
    ]  # fmt: skip
    assert _row(instances, "replica-b") == [
        "replica-b", "departed", "0/1", "wine-data/3", "40", "300", "300", "0", "2m05s", "ago"
    ]  # fmt: skip

    partitions = _section(text, "PARTITIONS")
    assert partitions[0].split() == ["TOPIC", "PARTITION", "INSTANCE", "LAG"]
    assert [line.split() for line in partitions[1:]] == [
        ["wine-data", str(p), "replica-a", str(p)] for p in (0, 1, 2, 5)
    ]

    totals = text.splitlines()[-1]
    assert totals.startswith("TOTALS  1 alive  lag 8  consumed 1200  scored 1190  dlq 10")
    assert "(no-model 10)" in totals and "models 2" in totals


def test_columns_are_aligned() -> None:
    lines = _section(render(CLUSTER, MODELS, ROUTES), "INSTANCES")
    header = lines[0]
    for row in lines[1:]:  # STATE starts where its header does; LAG is right-aligned under it
        assert row.index("alive" if "replica-a" in row else "departed") == header.index("STATE")
    lag_end = header.index("LAG") + len("LAG")
    assert [row[lag_end - 2 : lag_end] for row in lines[1:]] == [" 8", "40"]


def test_without_a_cluster_view_models_and_routes_still_show() -> None:
    text = render(None, MODELS, ROUTES)
    assert "wine-rf" in text and "wine-rf:3,wine-lr:2" in text
    assert _section(text, "INSTANCES") == [
        "  unavailable: GET /cluster answered 404 (this process has no cluster view)"
    ]
    assert "TOTALS" not in text


def test_empty_answers_render_as_none() -> None:
    text = render(None, {"models": []}, {"routes": []})
    assert _section(text, "MODELS") == ["  (none)"] and _section(text, "ROUTES") == ["  (none)"]


def test_compact_partitions() -> None:
    rows = [{"topic": "b", "partition": 0}] + [
        {"topic": "a", "partition": p} for p in (7, 0, 1, 2, 4, 5, 9)
    ]
    assert compact_partitions(rows) == "a/0-2,4-5,7,9 b/0"
    assert compact_partitions([]) == ""


def test_an_unreachable_url_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert main(["status", "--url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"modelserve status: cannot read {url}: ")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


async def test_status_of_a_running_service(
    start_service: Any, model_files: ModelFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    service = await start_service(stats_interval_s=0.3)
    await publish_forest(service.settings, model_files)
    deadline = time.monotonic() + 30
    async with http(service) as client:
        while service.instance not in (await client.get("/cluster")).json()["alive"]:
            assert time.monotonic() < deadline, "the instance never appeared in /cluster"
            await asyncio.sleep(0.1)
    url = f"http://127.0.0.1:{service.http_port}"
    capsys.readouterr()

    # The service answers on this event loop: the command (synchronous) runs in a thread.
    assert await asyncio.to_thread(main, ["status", "--url", url]) == 0
    text = capsys.readouterr().out
    assert _row(_section(text, "MODELS"), "wine-rf")[:4] == ["wine-rf", "1", "wine", "serving"]
    assert _row(_section(text, "INSTANCES"), service.instance)[:3] == [
        service.instance, "alive", "1/1"
    ]  # fmt: skip
    assert text.splitlines()[-1].startswith("TOTALS  1 alive")

    assert await asyncio.to_thread(main, ["status", "--url", url, "--json"]) == 0
    answers = orjson.loads(capsys.readouterr().out)
    assert set(answers) == {"cluster", "models", "routes"}
    assert answers["cluster"]["alive"] == [service.instance]
    assert [m["name"] for m in answers["models"]["models"]] == ["wine-rf"]
