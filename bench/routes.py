"""Routes under load: the service's throughput with each route mode, beside the single-model
path measured in the same run on the same records. Two (or three) copies of one model under
different names, so a mode's cost is the mode's, not a slower member's.

A shadow's throughput is read off the shadow topic (its answers come last: the batch is done
when they are written); the issue asks it to reach at least 0.45 × single."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from .harness import create_topics, output_rate, serve, uid
from .service_runs import publish_model
from .workload import BenchModel

MODES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "single": (["m1"], {}),
    "shadow": (["m1", "m2"], {"mode": "shadow", "primary": "m1", "shadows": ["m2"]}),
    "canary 50/50": (["m1", "m2"], {"mode": "canary", "weights": {"m1": 50, "m2": 50}}),
    "ensemble vote of 3": (
        ["m1", "m2", "m3"],
        {"mode": "ensemble", "members": ["m1", "m2", "m3"], "combine": "vote"},
    ),
    "speculative of 2, 20 ms": (
        ["m1", "m2"],
        {"mode": "speculative", "candidates": ["m1", "m2"], "deadlineMs": 20},
    ),
}


async def publish_route(bootstrap: str, control: str, route: dict[str, Any]) -> None:
    value = orjson.dumps({"kind": "route", "dataType": "wine", **route})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await (await producer.send(control, value, key=b"route:wine"))
    finally:
        await producer.stop()


async def route_rate(bootstrap: str, data: str, count: int, model: BenchModel, mode: str) -> float:
    """Records/s through the service with the mode's route over copies of ``model``."""
    names, route = MODES[mode]
    control, output = f"models-{uid()}", f"out-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, output, f"{output}.shadow")
    for name in names:
        await publish_model(bootstrap, control, replace(model, name=name))
    if route:
        await publish_route(bootstrap, control, route)
    # The models and the route are on the control topic before the service starts: it is
    # ready once it has replayed them, so the route is active from the first record.
    with serve(
        bootstrap,
        None,
        control_topic=control,
        data_topics=[data],
        output_topic=output,
        group_id=f"g-{uid()}",
    ):
        if mode == "shadow":
            return await output_rate(bootstrap, f"{output}.shadow", count)
        return await output_rate(bootstrap, output, count)
