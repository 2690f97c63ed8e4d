"""The life of a model, driven by control records as the rules judge them (control/rules.py):
admit, load, swap in, retire, expire on the clock (service/clock.py); and the route records
beside them (control/route_records.py).

Transport-free: the Kafka control reader feeds it records and it reports every load attempt
and state change, of models and of routes, to an event sink (the model-events topic in
production, a list in tests)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any

from service.clock import Clock, SystemClock
from service.control.descriptor import ControlLimits
from service.control.event_reporter import EventReporter, EventSink
from service.control.loader import Loaded, Loader
from service.control.replay import plan_replay
from service.control.replay_actions import (
    Action,
    ControlRecord,
    Headers,
    Load,
    Loading,
    PassOver,
    Refusal,
    Refuse,
    Retire,
    RouteRecord,
    Serve,
    Verdict,
    refusal_of,
)
from service.control.route_records import apply_route_record
from service.control.rules import Versions, admit, read
from service.errors import ModelError, sanitise
from service.metrics import Metrics
from service.routing.registry import NotLoaded, Registry
from service.routing.route_book import RouteChange
from service.routing.route_spec import route_key
from service.serving.descriptor import ModelDescriptor
from service.untrusted import is_model_name

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
        clock: Clock | None = None,
    ) -> None:
        self._registry = registry
        self._loader = loader
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._events = EventReporter(publish_event, metrics, registry, instance, self._clock.now)
        self._limits = limits
        self._expiry_timers: dict[str, asyncio.Task[None]] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._offset: int | None = None

    async def apply(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        offset: int | None = None,
    ) -> None:
        """Handle one control record, as the rules (control/rules.py) judge it on the
        registry's state. Never raises for anything the record contains.

        ``offset`` (the control record's) goes into the events it causes, so a publisher can
        tell its own verdict from others' without knowing the version the service assigned."""
        # Control records are applied one at a time, so one attribute carries the offset.
        self._offset = offset
        try:
            await self._carry_out(self._verdict(ControlRecord(key, value, headers, offset)))
            await self._route_events()  # a model's change can move its dataType's route
        except Exception as exc:
            await self._unforeseen(key, exc)
        finally:
            self._offset = None

    def _verdict(self, record: ControlRecord) -> Verdict:
        reading = read(record, self._limits)
        if isinstance(reading, ModelDescriptor):
            versions = Versions.of(self._registry.entry(reading.name))
            return admit(reading, versions, self._clock.now())
        return reading

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
            actions = await plan_replay(records, loading, self._limits, self._clock.now())
        except Exception:
            log.exception("the control replay could not be planned; applying it in order")
            for record in records:
                await self.apply(*record)
            return
        for record, action in zip(records, actions, strict=True):
            self._offset = record.offset
            try:
                await self._carry_out(action)
                await self._route_events()
            except Exception as exc:
                await self._unforeseen(record.key, exc)
            finally:
                self._offset = None
        assert not any(isinstance(m.model, NotLoaded) for m in self._registry.all_serving())
        self._metrics.models_serving.set(self._registry.serving_count())

    async def _carry_out(self, action: Verdict | Action[Loaded]) -> None:
        """A verdict of the rules (live), or a replay's action: the same steps either way."""
        if isinstance(action, Load):
            await self._load(action.descriptor)
        elif isinstance(action, Serve):
            await self._install(action.descriptor, action.loaded)
        elif isinstance(action, PassOver):
            self._registry.pass_over(action.descriptor, action.shape)
        elif isinstance(action, Refuse):
            await self._refuse(action.name, action.status, action.error, action.descriptor)
        elif isinstance(action, Retire):
            await self._retire(action.name)
        elif isinstance(action, RouteRecord):
            apply_route_record(self._registry, action.key, action.value, self._limits)
        # Ignore: a tombstone without a key does nothing.

    async def _load(self, descriptor: ModelDescriptor) -> None:
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
        timer = self._expire_at(descriptor.name, descriptor.version, descriptor.expires_at)
        self._expiry_timers[descriptor.name] = asyncio.get_running_loop().create_task(timer)

    async def _expire_at(self, name: str, version: int, at: datetime) -> None:
        """The version's expiry timer: once the clock reaches ``at``, it expires at once, with
        nothing awaited in between, so a timer cancelled before then (a newer version, a
        retirement, close) never expires what replaced it."""
        await self._clock.sleep_until(at)
        try:
            self._expire_now(name, version)
        except Exception:  # a bug: logged, and the control plane goes on
            log.exception("the expiry of %s:%d failed", name, version)

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
        timers = list(self._expiry_timers.values())
        self._expiry_timers.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
