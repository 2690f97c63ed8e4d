"""The whole deployment through the contract, as issue 13 checks it: two replicas, each a
process with WORKERS=2 behind one port. Each port's /stats and /state/wine equal the sums over
its workers; /cluster on either replica lists both, their partitions, and totals equal to the
sum of the replicas' own figures; a replica killed outright ages out and one stopped cleanly
is marked stopped."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.tools.publishing import build_descriptor, publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.browser import Dom, chromium_or_skip, output_folder, run_chromium
from tests.kafka_helpers import isolated_settings, produce_json, read_until
from tests.models import ModelFiles
from tests.replicas import Replica
from tests.service_helpers import until, wine_records

INTERVAL_S = 0.5
SUMMED = ("consumed", "scored", "dlq", "batches", "batchedRecords")


async def get(replica: Replica, path: str) -> Any:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{replica.port}", timeout=10) as c:
        answer = await c.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()


async def test_two_replicas_of_two_workers_answer_for_the_whole(
    bootstrap: str, model_files: ModelFiles, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    chromium = chromium_or_skip()
    s = isolated_settings(bootstrap, topic_partitions=4, workers=2, stats_interval_s=INTERVAL_S)
    a, b = Replica(s, "replica-a"), Replica(s, "replica-b")
    started: list[Replica] = [a, b]
    try:
        await asyncio.gather(a.start(), b.start())
        await asyncio.gather(a.ready(90), b.ready(90))
        descriptor = build_descriptor(
            model_files.forest_onnx, "wine-rf", "wine", inputs=list(WINE_FIELDS)
        )
        offset = await publish(s, descriptor)
        assert (await wait_for_event(s, "wine-rf", offset, timeout_s=60) or {})["status"] == (
            "loaded"
        )

        async def every_worker_serves(replica: Replica) -> bool:
            """The event above is the first worker's: each replays the control topic."""
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{replica.port}") as client:
                state = (await client.get("/state/wine")).json()
            return [w.get("name") for w in state.get("workers", [])] == ["wine-rf"] * 2

        for replica in (a, b):
            await until(lambda r=replica: every_worker_serves(r), 60.0, INTERVAL_S / 2)
        records = wine_records(model_files.features[:800], "k")
        await produce_json(bootstrap, s.data_topics[0], records)
        await read_until(bootstrap, s.output_topic, lambda r: len({x.key for x in r}) >= 800)

        own = {}
        for replica in (a, b):
            stats, state = await get(replica, "/stats"), await get(replica, "/state/wine")
            assert len(stats["workers"]) == 2
            for key in SUMMED:
                assert stats[key] == sum(w[key] for w in stats["workers"]), (replica.name, key)
            scoring = round(sum(w["scoringMs"] for w in stats["workers"]), 3)
            assert stats["scoringMs"] == scoring
            assert state["duration"] == round(sum(w["duration"] for w in state["workers"]), 3)
            assert state["usage"] == sum(w["usage"] for w in state["workers"])
            own[replica.name] = stats
        assert sum(o["scored"] for o in own.values()) == 800

        async def both_listed(replica: Replica) -> dict[str, Any] | None:
            view = await get(replica, "/cluster")
            done = view["alive"] == ["replica-a", "replica-b"] and view["totals"]["scored"] == 800
            return view if done else None

        for replica in (a, b):
            view = await until(lambda r=replica: both_listed(r), 60.0, INTERVAL_S / 2)
            for key in SUMMED:
                assert view["totals"][key] == sum(o[key] for o in own.values()), key
            held = sorted((p["topic"], p["partition"], p["instance"]) for p in view["partitions"])
            # Every partition of the group's topics: the data topic's and the requests'.
            topics = sorted((s.data_topics[0], s.oip_input_topic))
            assert [(t, p) for t, p, _ in held] == [(t, p) for t in topics for p in range(4)]
            assert {i for _, _, i in held} == {"replica-a", "replica-b"}
            for instance in view["instances"]:
                assert [w["alive"] for w in instance["workers"]] == [True, True]
                assert instance["stats"]["scored"] == own[instance["instance"]]["scored"]

        merged = await get(a, "/state/wine?scope=cluster")
        assert merged["usage"] == 800

        # The page on a container's one port shows the model and that container's /stats.
        folder = output_folder(request)
        url = f"http://127.0.0.1:{a.port}/"
        dom = Dom((await run_chromium(chromium, tmp_path / "p1", url, "--dump-dom")).decode())
        await run_chromium(chromium, tmp_path / "p2", url, f"--screenshot={folder}/a.png")
        shown = await get(a, "/stats")
        for key in ("consumed", "scored", "dlq", "batches"):
            assert dom.one(id=f"stat-{key}").text == str(shown[key]), key
        assert dom.one(data_model="wine-rf").attrs["data-status"] == "serving"
        assert {"replica-a", "replica-b"} <= {
            e.attrs["data-instance"] for e in dom.find() if "data-instance" in e.attrs
        }

        b.process.kill()  # type: ignore[union-attr]
        await b.process.wait()  # type: ignore[union-attr]

        async def b_departed() -> bool:
            return bool((await get(a, "/cluster"))["departed"] == ["replica-b"])

        await until(b_departed, 60.0, INTERVAL_S / 2)

        c = Replica(s, "replica-c")  # two workers: both must say they stopped
        started.append(c)
        await c.start()
        await c.ready(90)

        async def c_alive() -> bool:
            return "replica-c" in (await get(a, "/cluster"))["alive"]

        await until(c_alive, 60.0, INTERVAL_S / 2)
        assert await c.signal(signal.SIGTERM) == 0

        async def c_stopped() -> bool:
            return bool((await get(a, "/cluster"))["stopped"] == ["replica-c"])

        await until(c_stopped, 60.0, INTERVAL_S / 2)
        view = await get(a, "/cluster")
        assert (view["alive"], view["departed"]) == (["replica-a"], ["replica-b"])
    finally:
        for replica in started:
            await replica.stop()
