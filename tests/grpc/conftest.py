"""The gRPC server of the servicer's tests, once per module (tests/grpc/served.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.grpc.served import Server, grpc_server
from tests.models import ModelFiles


@pytest.fixture(scope="module")
async def server(model_files: ModelFiles) -> AsyncIterator[Server]:
    async with grpc_server(model_files) as serving:
        yield serving
