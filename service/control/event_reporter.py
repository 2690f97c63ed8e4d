"""Reporting what became of a control record, a model or a route: one log line, the metrics,
and the model event published (its loss is logged, never raised: events are information)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from service.clock import iso
from service.errors import sanitise
from service.metrics import Metrics
from service.routing.registry import Registry
from service.serving.events import EventStatus, ModelEvent

log = logging.getLogger(__name__)

EventSink = Callable[[ModelEvent], Awaitable[None]]


class EventReporter:
    def __init__(
        self,
        publish: EventSink,
        metrics: Metrics,
        registry: Registry,
        instance: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._publish = publish
        self._metrics = metrics
        self._registry = registry
        self._instance = instance
        self._clock = clock

    async def report(
        self,
        name: str | None,
        version: int | None,
        data_type: str | None,
        status: EventStatus,
        error: str | None = None,
        runtime: str | None = None,
        route: tuple[str, list[str]] | None = None,
        schema: list[dict[str, Any]] | None = None,
        offset: int | None = None,
    ) -> None:
        """``route``: a route's mode and members (a route's event); ``schema``: a loaded
        model's inputs; ``offset``: the control record that caused it (None for an expiry)."""
        error = sanitise(error) if error else error  # a route's, say, can list many names
        # One log line per event, with the model as structured context (LOG_FORMAT=json).
        log.log(
            logging.WARNING if error else logging.INFO,
            "%s %s %s for dataType %s%s",
            "route" if route is not None else "model",
            name if route is not None else f"{name or '<unnamed>'}:{version}",
            status,
            data_type,
            f": {error}" if error else "",
            extra={"model": name, "version": version, "dataType": data_type},
        )
        self._metrics.model_events.labels(status).inc()
        self._metrics.models_serving.set(self._registry.serving_count())
        event = ModelEvent(
            kind="route" if route is not None else "model",
            mode=route[0] or None if route is not None else None,
            members=(route[1] or None) if route is not None else None,
            name=name,
            version=version,
            data_type=data_type,
            status=status,
            error=error,
            runtime=runtime,
            input_schema=schema,
            at=iso(self._clock()) or "",
            instance=self._instance,
            offset=offset,
        )
        try:
            await self._publish(event)
        except Exception:  # events are information; losing one must not stop the control plane
            log.exception("could not publish model event %s", event)
