"""`make demo`: the whole loop on one machine — embedded broker, the service, a model trained
on the wine data and published as data, records streaming in, predictions streaming out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal

import orjson

from service.control.descriptor import ModelDescriptor
from service.http.views import serving_state
from service.kafka.clients import open_topic_reader
from service.server import Service
from service.settings import Settings
from service.tools.publishing import publish, wait_for_event
from service.tools.sending import send_records
from service.wine import WINE_FIELDS, wine_rows


async def run_demo(settings: Settings, seconds: float | None, rate: float = 200.0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if seconds:
        loop.call_later(seconds, stop.set)

    service = Service(settings)
    await service.start()
    base = f"http://localhost:{service.http_port}"
    print(f"modelserve is up: HTTP {base} (try {base}/models, {base}/state/wine, {base}/stats)")
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
        tasks = [
            asyncio.create_task(_stream(settings, rate)),
            asyncio.create_task(_print_predictions(settings)),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        totals = service.metrics.totals.as_dict(service.registry.serving_count())
        print(f"stats: {orjson.dumps(totals).decode()}")
        print(f"state: {orjson.dumps(serving_state(service.registry, 'wine')).decode()}")
    finally:
        await service.stop()


async def _stream(settings: Settings, rate: float) -> None:
    rows = (
        {k: v for k, v in r.items() if k != "quality"} for r in itertools.cycle(list(wine_rows()))
    )
    await send_records(settings, rows, "wine", rate=rate, key_prefix="wine-", progress=False)


async def _print_predictions(settings: Settings, every: int = 100) -> None:
    consumer = await open_topic_reader(settings.bootstrap_servers, settings.output_topic)
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
