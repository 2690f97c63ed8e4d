"""Routes on the real broker, through the contract only (control records keyed
``route:<dataType>``, the output and shadow topics, events, HTTP), with skl2onnx models and
two replicas where it matters: a shadow's answers for every record with the agreement the
topics show, a canary split stable across replicas and a restart, an ensemble vote equal to a
majority computed apart, a speculative race the fast model wins, a tombstone and an invalid
route. Nothing is lost throughout: every record has its prediction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import pytest

from service.server import Service
from service.settings import Settings
from service.wine import WINE_FIELDS, train_wine_onnx
from tests.kafka_helpers import isolated_settings, produce, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import http, publish_and_wait, wine_records

Event = dict[str, Any]


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wine classifiers with one label set: two small ones, a logistic one, a slow forest."""
    folder = tmp_path_factory.mktemp("route-models")
    made = {
        "small": train_wine_onnx("forest", trees=5, max_depth=4),
        "logistic": train_wine_onnx("logistic"),
        "medium": train_wine_onnx("forest", trees=20, max_depth=6),
        "slow": train_wine_onnx("forest", trees=200, max_depth=12),
    }
    paths = {}
    for name, (onnx, _) in made.items():
        paths[name] = folder / f"{name}.onnx"
        paths[name].write_bytes(onnx)
    return paths


def run_directly(path: Path, features: np.ndarray) -> list[str]:
    session = ort.InferenceSession(path.read_bytes())
    return [str(v) for v in session.run(None, {"X": features.astype(np.float32)})[0]]


async def publish_models(settings: Settings, paths: dict[str, Path], names: list[str]) -> None:
    for name in names:
        event = await publish_and_wait(settings, paths[name], name, inputs=list(WINE_FIELDS))
        assert event["status"] == "loaded", event


async def route(settings: Settings, value: dict[str, Any] | None, data_type: str = "wine") -> None:
    body = (
        None if value is None else orjson.dumps({"kind": "route", "dataType": data_type, **value})
    )
    await produce(
        settings.bootstrap_servers, settings.control_topic, [(f"route:{data_type}".encode(), body)]
    )


async def route_events(settings: Settings, done: Callable[[list[Event]], bool]) -> list[Event]:
    def events(records: list[Any]) -> list[Event]:
        found = [orjson.loads(r.value) for r in records]
        return [e for e in found if e.get("kind") == "route"]

    records = await read_until(
        settings.bootstrap_servers, settings.events_topic, lambda r: done(events(r))
    )
    return events(records)


def by_key(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {r.key.decode(): orjson.loads(r.value) for r in records}


async def test_a_shadow_answers_every_record_beside_the_primary_on_two_replicas(
    start_service: Any, bootstrap: str, classifiers: dict[str, Path], model_files: ModelFiles
) -> None:
    settings = isolated_settings(bootstrap)
    first: Service = await start_service(settings)
    second: Service = await start_service(settings.model_copy(update={"instance_id": "second"}))
    await publish_models(settings, classifiers, ["small", "logistic"])
    await route(settings, {"mode": "shadow", "primary": "small", "shadows": ["logistic"]})
    await route_events(
        settings,
        lambda es: (
            {e["instance"] for e in es if e["status"] == "active"}
            == {settings.instance_id, "second"}
        ),
    )
    x = model_files.features[:800]
    await produce_json(bootstrap, settings.data_topics[0], wine_records(x, "k"))
    predictions = by_key(
        await read_until(bootstrap, settings.output_topic, lambda r: len(by_key(r)) >= 800)
    )
    shadows = by_key(
        await read_until(bootstrap, settings.shadow_topic, lambda r: len(by_key(r)) >= 800)
    )
    primary_labels = run_directly(classifiers["small"], x)
    shadow_labels = run_directly(classifiers["logistic"], x)
    for i in range(800):
        p, s = predictions[f"k{i}"], shadows[f"k{i}"]
        assert p["model"]["name"] == "small" and p["result"]["label"] == primary_labels[i]
        assert s["model"]["name"] == "logistic" and s["result"]["label"] == shadow_labels[i]
        assert s["role"] == "shadow" and s["id"] == p["id"] and s["source"] == p["source"]
        assert s["primary"] == {"name": "small", "version": 1, "label": primary_labels[i]}
    from_topics = np.mean([primary_labels[i] == shadow_labels[i] for i in range(800)])
    compared = agreed = 0.0
    for service in (first, second):
        async with http(service) as client:
            state = (await client.get("/state/wine")).json()
        assert state["name"] == "small" and state["route"]["mode"] == "shadow"
        shown = state["route"]["shadows"]["logistic"]
        n = shown["agreement"]["compared"]
        compared += n
        agreed += (shown["agreement"]["sinceStart"] or 0.0) * n
        assert shown["errors"] == shown["timeouts"] == shown["skipped"] == 0
    assert compared == 800 and agreed / compared == pytest.approx(from_topics, abs=1e-5)


async def test_a_canary_split_holds_across_replicas_and_a_restart(
    start_service: Any, bootstrap: str, classifiers: dict[str, Path], model_files: ModelFiles
) -> None:
    settings = isolated_settings(bootstrap)
    await start_service(settings)
    second: Service = await start_service(settings.model_copy(update={"instance_id": "second"}))
    await publish_models(settings, classifiers, ["small", "logistic"])
    await route(settings, {"mode": "canary", "weights": {"small": 90, "logistic": 10}})
    await route_events(settings, lambda es: sum(e["status"] == "active" for e in es) == 2)
    rows = np.resize(model_files.features, (10_000, len(WINE_FIELDS)))
    records = [(f"customer-{i}", rec) for i, (_, rec) in enumerate(wine_records(rows, ""))]
    await produce_json(bootstrap, settings.data_topics[0], records)
    out = by_key(await read_until(bootstrap, settings.output_topic, lambda r: len(r) >= 10_000))
    chosen = {key: p["model"]["name"] for key, p in out.items()}
    assert len(chosen) == 10_000  # nothing lost
    shares = Counter(chosen.values())
    assert abs(shares["small"] / 10_000 - 0.9) <= 0.03, shares
    # Both replicas scored: the split is the same whichever replica a key met.
    async with http(second) as client:
        assert (await client.get("/routes/wine")).json()["status"] == "active"
    await second.stop()
    restarted: Service = await start_service(settings.model_copy(update={"instance_id": "third"}))
    assert restarted is not None
    again = [(key, {**rec, "id": f"again-{key}"}) for key, rec in records[:2000]]
    await produce_json(bootstrap, settings.data_topics[0], again)

    def resent(records: list[Any]) -> dict[str, str]:
        found = (orjson.loads(r.value) for r in records)
        return {p["id"]: p["model"]["name"] for p in found if p["id"].startswith("again-")}

    more = resent(
        await read_until(bootstrap, settings.output_topic, lambda r: len(resent(r)) >= 2000)
    )
    assert more == {f"again-{key}": chosen[key] for key, _ in records[:2000]}


async def test_ensemble_speculative_removal_and_a_rejected_route(
    start_service: Any, bootstrap: str, classifiers: dict[str, Path], model_files: ModelFiles
) -> None:
    service: Service = await start_service(max_batch_size=500)
    s = service.settings
    await publish_models(s, classifiers, ["small", "logistic", "medium", "slow"])
    x = model_files.features[:600]
    answers = {n: run_directly(classifiers[n], x) for n in ("small", "logistic", "medium")}
    await route(s, {"mode": "ensemble", "members": ["medium", "small", "logistic"]})
    await route_events(s, lambda es: any(e["status"] == "active" for e in es))
    await produce_json(bootstrap, s.data_topics[0], wine_records(x, "e"))
    out = by_key(await read_until(bootstrap, s.output_topic, lambda r: len(r) >= 600))
    for i in range(600):
        votes = [answers[n][i] for n in ("medium", "small", "logistic")]
        counts = Counter(votes)
        majority = next(v for v in votes if counts[v] == max(counts.values()))
        p = out[f"e{i}"]
        assert p["result"]["label"] == majority
        assert p["model"]["name"] == "wine ensemble" and len(p["model"]["members"]) == 3

    await route(s, {"mode": "speculative", "candidates": ["slow", "logistic"], "deadlineMs": 2})
    await route_events(s, lambda es: sum(e["status"] == "active" for e in es) == 2)
    await produce_json(bootstrap, s.data_topics[0], wine_records(x, "s"))
    out = by_key(await read_until(bootstrap, s.output_topic, lambda r: len(r) >= 1200))
    fast = answers["logistic"]
    answered = Counter(out[f"s{i}"]["model"]["name"] for i in range(600))
    assert answered["logistic"] > 0, answered
    for i in range(600):
        if out[f"s{i}"]["model"]["name"] == "logistic":
            assert out[f"s{i}"]["result"]["label"] == fast[i]
    async with http(service) as client:
        stats = (await client.get("/state/wine")).json()["route"]
        assert stats["mode"] == "speculative" and stats["decider"] == "first-listed"
        assert stats["candidates"]["logistic"]["wins"] == answered["logistic"]
        assert stats["candidates"]["slow"]["timeouts"] > 0 and stats["usage"] == 600
        metrics = (await client.get("/metrics")).text
        assert 'modelserve_speculative_wins_total{data_type="wine",model="logistic"}' in metrics

        # Invalid: rejected, with no effect.
        await route(s, {"mode": "canary", "weights": {"small": 0}})
        events = await route_events(s, lambda es: any(e["status"] == "rejected" for e in es))
        rejected = next(e for e in events if e["status"] == "rejected")
        assert "weights must be positive" in rejected["error"]
        shown = (await client.get("/routes/wine")).json()
        assert shown["status"] == "active" and shown["route"]["mode"] == "speculative"
        assert "weights must be positive" in shown["lastRejected"]["error"]

        # A tombstone: back to the latest model (slow, published last).
        await route(s, None)
        await route_events(s, lambda es: any(e["status"] == "removed" for e in es))
        assert (await client.get("/routes/wine")).status_code == 404
        reply = (
            await client.post(
                "/predict/wine", json=dict(zip(WINE_FIELDS, map(float, x[0]), strict=True))
            )
        ).json()
        assert reply["model"] == {"name": "slow", "version": 1}
        models = {m["name"]: m["status"] for m in (await client.get("/models")).json()["models"]}
        assert models == {
            "slow": "serving",
            "small": "standby",
            "logistic": "standby",
            "medium": "standby",
        }
