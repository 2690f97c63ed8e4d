"""The service under test: a model published to a fresh control topic, the service run as its
own process (from a given checkout, for old-against-new runs), its throughput."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.tools.publishing import publish
from service.wine import WINE_FIELDS

from .harness import create_topics, output_rate, serve, uid
from .workload import BenchModel


async def publish_model(bootstrap: str, control: str, model: BenchModel) -> None:
    descriptor = ModelDescriptor.model_validate(
        {
            "name": model.name,
            "dataType": "wine",
            "modelType": model.kind,
            "data": model.path.read_bytes(),
            "labels": model.labels,
            "inputs": list(WINE_FIELDS) if model.kind == "ONNX" else None,
        }
    )
    await publish(Settings(bootstrap_servers=bootstrap, control_topic=control), descriptor)


async def service_rate(
    bootstrap: str,
    data: str,
    count: int,
    model: BenchModel,
    tree: Path | None = None,
    **settings: Any,
) -> float:
    control, output = f"models-{uid()}", f"out-{uid()}"
    await create_topics(bootstrap, control, partitions=1)
    await create_topics(bootstrap, output)
    await publish_model(bootstrap, control, model)
    with serve(
        bootstrap,
        tree,
        control_topic=control,
        data_topics=[data],
        output_topic=output,
        group_id=f"g-{uid()}",
        **settings,
    ):
        return await output_rate(bootstrap, output, count)


async def wait_serving(client: httpx.AsyncClient) -> None:
    for _ in range(600):
        if (await client.get("/state/wine")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("model never served")
