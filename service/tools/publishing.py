"""The CLI's side of the control topic: build a descriptor from a model file or a route from
flags, publish or retire one (through kafka/control_publisher.py), and wait for the service's
verdict on the events topic."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from service.kafka.clients import open_topic_reader
from service.kafka.control_publisher import control_publisher
from service.routing.route_spec import RouteRejectedError, RouteSpec, parse_route, route_key
from service.runtimes.catalog import RUNTIMES, Runtime
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.tools.model_files import guess_runtime, read_artifact
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, UnreadableJson, loads


def runtime_for(path: Path | None, given: str | None) -> Runtime:
    """The runtime named by ``--type``, else the one the file belongs to (model_files.py)."""
    if given:
        return RUNTIMES.get(given)
    runtime = guess_runtime(path) if path is not None else None
    if runtime is None:
        shown = path.name if path is not None else "a model without a file"
        raise ValueError(f"cannot tell the model type of {shown}: pass --type")
    return runtime


def build_descriptor(
    path: Path | None,
    name: str,
    data_type: str,
    *,
    model_type: str | None = None,
    version: int | None = None,
    inputs: list[str] | None = None,
    labels: list[str] | None = None,
    location: str | None = None,
    description: str = "",
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    pickle_key: str | None = None,
    rollback: bool = False,
    field_map: dict[str, str] | None = None,
    schema: list[Any] | None = None,
    outputs: list[str] | None = None,
    signature_name: str | None = None,
    handler: str | None = None,
) -> ModelDescriptor:
    """By value (the file's bytes inline, a directory's as a tar) unless ``location`` is
    given, in which case the file is only read for its sha256 and the service fetches the
    artifact itself. ``path`` may be None for a PYTHON model that needs no artifact."""
    artifact = read_artifact(path) if path is not None else None
    runtime = runtime_for(path, model_type)
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "dataType": data_type,
        "modelType": runtime.model_type,
        "description": description,
        "inputs": inputs,
        "labels": labels,
        "expiresAt": expires_at,
        "metadata": metadata or {},
        "sha256": hashlib.sha256(artifact).hexdigest() if artifact is not None else None,
        "rollback": rollback,
        "fieldMap": field_map,
        "schema": schema,
        "outputs": outputs,
        "signatureName": signature_name,
        "handler": handler,
    }
    if location is not None:
        fields["location"] = location
    elif artifact is not None:
        fields["data"] = artifact
    if runtime.signed:
        if artifact is None:
            raise ValueError(f"{runtime.model_type} models need their file")
        if not pickle_key:
            raise ValueError(
                f"{runtime.model_type} models must be signed: set MODELSERVE_PICKLE_KEY"
            )
        fields["signature"] = hmac.new(pickle_key.encode(), artifact, hashlib.sha256).hexdigest()
    return ModelDescriptor.model_validate(fields)


# The statuses a route record's event can end with; "pending" is final for --wait too: the
# route is accepted and waits for its members to serve.
ROUTE_STATUSES = ("active", "pending", "rejected", "removed")


def build_route(
    data_type: str,
    *,
    shadow: Sequence[str] | None = None,
    primary: str | None = None,
    sample: float = 1.0,
    canary: Mapping[str, float] | None = None,
    ensemble: Sequence[str] | None = None,
    combine: str = "vote",
    speculative: Sequence[str] | None = None,
    deadline_ms: int | None = None,
    decider: str = "first-listed",
) -> RouteSpec:
    """The route of exactly one mode, checked as the service checks it (ValueError with the
    service's reason), so that a route it would reject is never published."""
    modes = {"shadow": shadow, "canary": canary, "ensemble": ensemble, "speculative": speculative}
    given = [mode for mode, members in modes.items() if members is not None]
    if len(given) != 1:
        raise ValueError(
            f"a route needs exactly one mode of shadow, canary, ensemble, speculative; got "
            f"{', '.join(given) or 'none'}"
        )
    document: dict[str, Any] = {"kind": "route", "dataType": data_type, "mode": given[0]}
    if shadow is not None:
        if primary is None:
            raise ValueError("a shadow route needs its primary")
        document.update(primary=primary, shadows=list(shadow), sample=sample)
    elif canary is not None:
        document.update(weights=dict(canary))
    elif ensemble is not None:
        document.update(members=list(ensemble), combine=combine)
    elif speculative is not None:
        if deadline_ms is None:
            raise ValueError("a speculative route needs its deadline")
        document.update(candidates=list(speculative), deadlineMs=deadline_ms, decider=decider)
    try:
        return parse_route(route_key(data_type).encode(), orjson.dumps(document))
    except RouteRejectedError as exc:
        raise ValueError(str(exc)) from exc


async def publish(settings: Settings, descriptor: ModelDescriptor) -> int:
    """Publish once, on a producer of its own; returns the control record's offset."""
    async with control_publisher(settings) as publisher:
        return await publisher.publish(descriptor)


async def retire(settings: Settings, name: str) -> int:
    async with control_publisher(settings) as publisher:
        return await publisher.retire(name)


async def wait_for_event(
    settings: Settings,
    name: str,
    offset: int,
    timeout_s: float = 120.0,
    statuses: tuple[str, ...] = ("loaded", "failed", "rejected", "retired"),
) -> dict[str, Any] | None:
    """The first event about ``name`` caused by the control record at ``offset`` with one of
    ``statuses``; None on time-out. Reads the events topic from the start: its end offsets
    are not trusted on every Kafka-compatible broker."""
    consumer = await open_topic_reader(settings, settings.events_topic)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = _matching(record.value, name, offset)
                    if event is not None and event.get("status") in statuses:
                        return event
            await asyncio.sleep(0)
        return None
    finally:
        await consumer.stop()


def _matching(value: bytes | None, name: str, offset: int) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        event = loads(value, DEFAULT_MAX_JSON_DEPTH)
    except UnreadableJson:  # anyone can write the events topic
        return None
    if not isinstance(event, dict) or event.get("name") != name or event.get("offset") != offset:
        return None
    return event
