"""A REMOTE model over gRPC against modelserve's own gRPC server (tests/grpc/served.py: the
wine forest ``rf`` in onnxruntime): a modelserve peer's label, probabilities and classes come
back as onnxruntime answers them, one ModelInfer per batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest

from service.errors import ModelLoadError, ModelUnavailableError
from service.grpc.server import GrpcPart
from service.inputs.schema import TypedBatch
from service.wine import WINE_FIELDS
from tests.models import ModelFiles
from tests.oip_helpers import Served, forest_answer, served
from tests.remote.helpers import load_remote


async def test_modelserve_over_grpc_answers_as_onnxruntime(model_files: ModelFiles) -> None:
    rows = np.random.default_rng(3).uniform(0, 15, size=(40, 11))
    async with grpc_server(model_files) as (core, url):
        model = await asyncio.to_thread(load_remote, url, model="rf")
        try:
            assert model.input_schema.names == list(WINE_FIELDS)  # its [-1, 11] FP32 input
            before = grpc_calls(core)
            result = await asyncio.to_thread(
                model.predict, TypedBatch.of_matrix(model.input_schema, rows)
            )
            assert grpc_calls(core) == before + 1  # one call for the batch
            with pytest.raises(ModelLoadError, match="does not serve"):
                await asyncio.to_thread(load_remote, url, model="nope")
        finally:
            model.close()
    labels, probabilities = forest_answer(model_files, rows)
    assert result.labels == [str(label) for label in labels]
    assert np.allclose(np.asarray(result.probabilities), probabilities, atol=1e-6)


async def test_a_grpc_server_gone_is_unavailability(model_files: ModelFiles) -> None:
    async with grpc_server(model_files) as (_, url):
        model = await asyncio.to_thread(load_remote, url, model="rf", timeout_s=1.0)
    try:
        batch = TypedBatch.of_matrix(model.input_schema, np.ones((2, 11)))
        with pytest.raises(ModelUnavailableError, match=r"UNAVAILABLE|DEADLINE"):
            await asyncio.to_thread(model.predict, batch)
    finally:
        model.close()


@asynccontextmanager
async def grpc_server(model_files: ModelFiles) -> AsyncIterator[tuple[Served, str]]:
    """``rf`` and ``lr`` served over gRPC, and the endpoint that names the server."""
    core = served(model_files)
    part = GrpcPart(core.inference, "127.0.0.1", 0, 1 << 20, grace_s=1.0)
    await part.start()
    try:
        yield core, f"grpc://127.0.0.1:{part.port}"
    finally:
        await part.stop()


def grpc_calls(core: Served) -> float:
    labels = {"protocol": "grpc", "outcome": "ok"}
    return (
        core.metrics.registry.get_sample_value("modelserve_inference_requests_total", labels) or 0
    )
