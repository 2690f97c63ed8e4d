"""Not in ``tests.runtimes.handlers`` though its name begins so: never to be imported by a
service that allows that package. A test checks it stays out of sys.modules."""

from __future__ import annotations

from typing import Any


def make(artifact: bytes | None, metadata: dict[str, Any]) -> Any:
    raise AssertionError("an off-list handler was called")
