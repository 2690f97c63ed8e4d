"""`make demo`: the whole loop on one machine — embedded broker, the service, a model trained
on the wine data and published as data, records streaming in, predictions streaming out; and a
second model shadowing the first, its agreement with it in ``/state/wine``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal

import orjson

from service.http.views import process_stats, serving_state
from service.kafka.clients import open_topic_reader
from service.kafka.control_publisher import control_publisher
from service.learning.learner import LearnerOptions
from service.learning.process import LearnerProcess
from service.routing.route_spec import route_key
from service.server import Service
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.tools.publishing import ROUTE_STATUSES, build_route, publish, wait_for_event
from service.tools.sending import send_records
from service.wine import WINE_FIELDS, WINE_LABEL, wine_rows

DEMO_HANDLERS = "service.tools.demo_handlers"
SHADOWS = ("wine-lr", "wine-centroid")


async def run_demo(settings: Settings, seconds: float | None, rate: float = 200.0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if seconds:
        loop.call_later(seconds, stop.set)

    # The demo's Python model is this package's own handler: allowed here, as an operator
    # allows the modules of handlers they installed.
    handlers = [*settings.python_handlers, DEMO_HANDLERS]
    settings = settings.model_copy(update={"python_handlers": handlers})
    service = Service(settings)
    await service.start()
    base = f"http://localhost:{service.http_port}"
    print(f"modelserve is up: HTTP {base} (try {base}/models, {base}/state/wine, {base}/stats)")
    print(f"dashboard: open {base}/ in a browser; the cluster view: {base}/cluster")
    try:
        print("training a random forest on the wine data and exporting it to ONNX ...")
        from service.wine import train_wine_onnx

        artifact, classes = await asyncio.to_thread(train_wine_onnx, "forest", 30)
        descriptor = ModelDescriptor.model_validate(
            {
                "name": "wine-rf",
                "dataType": "wine",
                "modelType": "ONNX",
                "data": artifact,
                "inputs": list(WINE_FIELDS),
                "labels": classes,
                "description": "random forest, 30 trees, red wine quality",
                "metadata": {"trainedOn": "winequality_red.csv", "trees": 30},
            }
        )
        offset = await publish(settings, descriptor)
        event = await wait_for_event(settings, "wine-rf", offset, timeout_s=60)
        print(f"model event: {event}")
        await _shadow_with_logistic(settings)
        learner = await _start_learner(settings)
        tasks = [
            asyncio.create_task(_stream(settings, rate)),
            asyncio.create_task(_print_predictions(settings)),
            asyncio.create_task(_feedback(settings, rate)),
            asyncio.create_task(_print_versions(learner)),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await learner.runner.stop()
        totals = process_stats(service.metrics, service.registry)
        print(f"stats: {orjson.dumps(totals).decode()}")
        state = serving_state(service.registry, "wine")
        print(f"state: {orjson.dumps(state).decode()}")
        shadows = ((state or {}).get("route") or {}).get("shadows", {})
        for name in SHADOWS:
            shadow = shadows.get(name)
            if shadow is not None and shadow["agreement"]["sinceStart"] is not None:
                agreement = shadow["agreement"]
                print(
                    f"{name} agreed with wine-rf on {agreement['sinceStart']:.1%} of "
                    f"{agreement['compared']} records"
                )
    finally:
        await service.stop()


async def _shadow_with_logistic(settings: Settings) -> None:
    """A logistic regression (ONNX) and a nearest-centroid classifier (a Python model) for
    wine, shadowing the forest: the forest answers, the shadows' answers go to the shadow
    topic, and /state/wine shows how often each agrees with it."""
    from service.wine import train_wine_onnx

    artifact, classes = await asyncio.to_thread(train_wine_onnx, "logistic")
    descriptor = ModelDescriptor.model_validate(
        {
            "name": "wine-lr",
            "dataType": "wine",
            "modelType": "ONNX",
            "data": artifact,
            "inputs": list(WINE_FIELDS),
            "labels": classes,
            "description": "logistic regression, red wine quality (shadowing wine-rf)",
        }
    )
    offset = await publish(settings, descriptor)
    await wait_for_event(settings, "wine-lr", offset, timeout_s=60)
    centroid = ModelDescriptor.model_validate(
        {
            "name": "wine-centroid",
            "dataType": "wine",
            "modelType": "PYTHON",
            "handler": f"{DEMO_HANDLERS}:nearest_centroid",
            "inputs": list(WINE_FIELDS),
            "metadata": {"temperature": 1.0},
            "description": "nearest centroid, a Python model (shadowing wine-rf)",
        }
    )
    offset = await publish(settings, centroid)
    event = await wait_for_event(settings, "wine-centroid", offset, timeout_s=60)
    print(f"model event: {event}")
    route = build_route("wine", shadow=list(SHADOWS), primary="wine-rf")
    async with control_publisher(settings) as publisher:
        offset = await publisher.publish_route(route)
    event = await wait_for_event(
        settings, route_key("wine"), offset, timeout_s=60, statuses=ROUTE_STATUSES
    )
    print(f"route event: {event}")
    print(f"shadow answers go to {settings.shadow_topic}; agreement in /state/wine")


async def _start_learner(settings: Settings) -> LearnerProcess:
    """An online learner of wine quality on the feedback topic: it publishes `wine-online`
    versions as data (they stand by: the shadow route names wine-rf and wine-lr)."""
    classes = sorted({str(int(r[WINE_LABEL])) for r in wine_rows()}, key=int)
    options = LearnerOptions(
        name="wine-online",
        data_type="wine",
        algorithm="logistic-sgd",
        inputs=tuple(WINE_FIELDS),
        labels=tuple(classes),
        publish_every=500,
        publish_interval_s=5.0,
        window=500,
    )
    learner = LearnerProcess(settings.model_copy(update={"learner_http_port": 0}), options)
    await learner.runner.start()
    print(f"online learner up: HTTP http://localhost:{learner.http.port}/state")
    return learner


async def _feedback(settings: Settings, rate: float) -> None:
    """The true quality of each wine streamed, as feedback (features + label)."""
    rows = (
        {**{k: v for k, v in r.items() if k != WINE_LABEL}, "label": int(r[WINE_LABEL])}
        for r in itertools.cycle(list(wine_rows()))
    )
    await send_records(
        settings,
        rows,
        "wine",
        rate=rate,
        key_prefix="feedback-",
        topic=settings.feedback_topic,
        progress=False,
    )


async def _print_versions(learner: LearnerProcess) -> None:
    shown = 0
    while True:
        core = learner.core
        if core is not None:
            for version in core.versions[shown:]:
                score = "n/a" if version.score is None else f"{version.score:.3f}"
                print(
                    f"learner published wine-online:{version.version} after {version.records} "
                    f"records (windowed prequential accuracy {score})"
                )
            shown = len(core.versions)
        await asyncio.sleep(0.5)


async def _stream(settings: Settings, rate: float) -> None:
    rows = (
        {k: v for k, v in r.items() if k != "quality"} for r in itertools.cycle(list(wine_rows()))
    )
    await send_records(settings, rows, "wine", rate=rate, key_prefix="wine-", progress=False)


async def _print_predictions(settings: Settings, every: int = 100) -> None:
    consumer = await open_topic_reader(settings, settings.output_topic)
    try:
        seen = 0
        while True:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    seen += 1
                    if seen % every == 1:
                        p = orjson.loads(record.value)
                        result = p["result"]
                        confidence = max(result.get("probabilities", {"": 0}).values())
                        latency = p["timestamps"]["scored"] - p["timestamps"]["ingested"]
                        print(
                            f"prediction #{seen}: id={p['id']} quality={result['label']} "
                            f"(p={confidence:.2f}) by {p['model']['name']}:{p['model']['version']} "
                            f"in {latency} ms"
                        )
    finally:
        await consumer.stop()
