"""The life of a model, driven by control records: admit, load, swap in, retire, expire; and
the route records beside them (control/route_records.py).

Transport-free: the Kafka control reader feeds it records and it reports every load attempt
and state change, of models and of routes, to an event sink (the model-events topic in
production, a list in tests)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from service.control.descriptor import ControlLimits, parse_descriptor
from service.control.event_reporter import EventReporter, EventSink
from service.control.loader import Loaded, Loader
from service.control.replay import plan_replay
from service.control.replay_actions import (
    EXPIRED,
    Action,
    ControlRecord,
    Headers,
    Loading,
    PassOver,
    Refusal,
    Refuse,
    Serve,
    refusal_of,
)
from service.control.route_records import apply_route_record
from service.errors import DescriptorRejectedError, ModelError, sanitise
from service.metrics import Metrics
from service.routing.registry import NotLoaded, Registry
from service.routing.route_book import RouteChange
from service.routing.route_spec import is_route_key, route_key
from service.serving.descriptor import ModelDescriptor, is_model_name
from service.serving.model import utcnow

log = logging.getLogger(__name__)


class ModelLifecycle:
    def __init__(
        self,
        registry: Registry,
        loader: Loader,
        publish_event: EventSink,
        metrics: Metrics,
        instance: str,
        limits: ControlLimits,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._registry = registry
        self._loader = loader
        self._metrics = metrics
        self._events = EventReporter(publish_event, metrics, registry, instance, clock)
        self._limits = limits
        self._clock = clock
        self._expiry_timers: dict[str, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._offset: int | None = None

    async def apply(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        offset: int | None = None,
    ) -> None:
        """Handle one control record. Never raises for anything the record contains.

        ``offset`` (the control record's) goes into the events it causes, so a publisher can
        tell its own verdict from others' without knowing the version the service assigned."""
        # Control records are applied one at a time, so one attribute carries the offset.
        self._offset = offset
        try:
            await self._apply(key, value, headers)
            await self._route_events()  # a model's change can move its dataType's route
        except Exception as exc:
            await self._unforeseen(key, exc)
        finally:
            self._offset = None

    async def _unforeseen(self, key: bytes | None, exc: Exception) -> None:
        """A record that made the service fail where it foresaw nothing: a bug, which must
        cost that record (its rejected event, with the traceback in the log), never the
        control plane of every replica that reads it."""
        log.error("control record could not be applied", exc_info=exc)
        name = key.decode("utf-8", errors="replace") if key is not None else None
        error = f"the service could not apply it: {type(exc).__name__}"
        try:
            await self._refuse(name, "rejected", error, None)
        except Exception:
            log.exception("and its rejection could not be recorded")

    async def replay(self, records: Sequence[ControlRecord]) -> None:
        """The control records present at start, as one replay (control/replay.py): the
        registry, routes and events apply would leave, but only what serves at the end is
        loaded (and what a route's check must see the answers of, closed again): a version
        ended within the replay stands in without a model until then, with no events of its
        own. Planned for an empty registry; on one in use, applied in order."""
        if self._registry.names():
            for record in records:
                await self.apply(*record)
            return
        loading = Loading(
            self._loader.load, lambda done: done.shape, lambda done: done.model.close()
        )
        try:
            actions = await plan_replay(records, loading, self._limits, self._clock())
        except Exception:
            log.exception("the control replay could not be planned; applying it in order")
            for record in records:
                await self.apply(*record)
            return
        for record, action in zip(records, actions, strict=True):
            self._offset = record.offset
            try:
                await self._carry_out(record, action)
                await self._route_events()
            except Exception as exc:
                await self._unforeseen(record.key, exc)
            finally:
                self._offset = None
        assert not any(isinstance(m.model, NotLoaded) for m in self._registry.all_serving())
        self._metrics.models_serving.set(self._registry.serving_count())

    async def _carry_out(self, record: ControlRecord, action: Action[Loaded]) -> None:
        if isinstance(action, Serve):
            await self._install(action.descriptor, action.loaded)
        elif isinstance(action, PassOver):
            self._registry.pass_over(action.descriptor, action.shape)
        elif isinstance(action, Refuse):
            await self._refuse(action.name, action.status, action.error, action.descriptor)
        else:
            await self._apply(record.key, record.value, record.headers)

    async def _apply(self, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        if key is not None and is_route_key(key):
            apply_route_record(self._registry, key, value, self._limits)
            return
        name = key.decode("utf-8", errors="replace") if key is not None else None
        if value is None:
            if name is not None:
                await self._retire(name)
            return
        try:
            descriptor = parse_descriptor(key, value, headers, self._limits)
        except DescriptorRejectedError as exc:
            await self._refuse(name, "rejected", str(exc), None)
            return
        try:
            descriptor = self._registry.admit(descriptor)
        except DescriptorRejectedError as exc:
            await self._refuse(descriptor.name, "rejected", str(exc), descriptor)
            return
        await self._load(descriptor)

    async def _load(self, descriptor: ModelDescriptor) -> None:
        now = self._clock()
        if descriptor.expires_at is not None and descriptor.expires_at <= now:
            # Expired, not rejected: a replica replaying the control log after the instant must
            # show what the replicas that served it show.
            await self._refuse(descriptor.name, "expired", EXPIRED, descriptor)
            return
        self._registry.begin_load(descriptor)
        try:
            loaded = await self._loader.load(descriptor)
        except ModelError as exc:
            await self._refuse(descriptor.name, refusal_of(exc), str(exc), descriptor)
            return
        await self._install(descriptor, loaded)

    async def _install(self, descriptor: ModelDescriptor, loaded: Loaded) -> None:
        serving = self._registry.install(descriptor, loaded.model, loaded.sha256, loaded.shape)
        self._schedule_expiry(descriptor)
        await self._events.report(
            descriptor.name,
            descriptor.version,
            descriptor.data_type,
            "loaded",
            runtime=serving.runtime,
            schema=serving.model.input_schema.document(),
            offset=self._offset,
        )

    async def _refuse(
        self, name: str | None, status: Refusal, error: str, descriptor: ModelDescriptor | None
    ) -> None:
        version = descriptor.version if descriptor else None
        data_type = descriptor.data_type if descriptor else None
        if name is not None and not is_model_name(name):
            # A key no model can have: the event says what it was, nothing keeps it (a
            # stream of junk keys must not grow /models).
            name = sanitise(name, 256)
        elif name is not None:
            self._registry.fail(name, status, error, descriptor)
        await self._events.report(name, version, data_type, status, error, offset=self._offset)

    async def _retire(self, name: str) -> None:
        self._cancel_expiry(name)
        old = self._registry.retire(name)
        if old is not None and not isinstance(old.model, NotLoaded):  # a replay's stand-in
            await self._events.report(
                name,
                old.version,
                old.descriptor.data_type,
                "retired",
                runtime=old.runtime,
                offset=self._offset,
            )

    def _schedule_expiry(self, descriptor: ModelDescriptor) -> None:
        self._cancel_expiry(descriptor.name)
        if descriptor.expires_at is None:
            return
        assert descriptor.version is not None
        delay = (descriptor.expires_at - self._clock()).total_seconds()
        loop = asyncio.get_running_loop()
        self._expiry_timers[descriptor.name] = loop.call_later(
            max(0.0, delay), self._expire_now, descriptor.name, descriptor.version
        )

    def _expire_now(self, name: str, version: int) -> None:
        self._expiry_timers.pop(name, None)
        old = self._registry.expire(name, version)
        if old is not None:
            # Its route changes are taken now, so that no control record's events claim them.
            changes = self._registry.take_route_changes()
            data_type = old.descriptor.data_type
            self._background(self._expired(name, version, data_type, old.runtime, changes))

    async def _expired(
        self,
        name: str,
        version: int,
        data_type: str,
        runtime: str,
        changes: list[RouteChange],
    ) -> None:
        await self._events.report(name, version, data_type, "expired", runtime=runtime)
        await self._route_events(changes, from_record=False)

    async def _route_events(
        self, changes: list[RouteChange] | None = None, from_record: bool = True
    ) -> None:
        for change in self._registry.take_route_changes() if changes is None else changes:
            spec = change.spec
            await self._events.report(
                route_key(change.data_type),
                None,
                change.data_type,
                change.status,
                change.error,
                route=(spec.mode, list(spec.names)) if spec is not None else ("", []),
                offset=self._offset if from_record else None,
            )

    def _cancel_expiry(self, name: str) -> None:
        timer = self._expiry_timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the expiry timers and see the events already on their way out (an expiry's)
        published, or given up after ``timeout_s``."""
        for timer in self._expiry_timers.values():
            timer.cancel()
        self._expiry_timers.clear()
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
