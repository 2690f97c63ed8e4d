"""The meeting point of the two planes: per dataType a route (which models score its records),
per name every version seen. The control plane changes it (admit, install, fail, retire,
expire); the scoring plane reads routes. Owned by the event loop; every change is one
synchronous method call, so a swap is atomic with respect to the scoring loop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from service.control.descriptor import ModelDescriptor
from service.errors import DescriptorRejectedError
from service.routing.history import ModelEntry, Status, VersionRecord
from service.routing.routes import Route
from service.routing.serving import ServingModel, utcnow
from service.runtimes.base import Model


class Registry:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._models: dict[str, ModelEntry] = {}
        self._routes: dict[str, Route] = {}

    # -- the hot path -----------------------------------------------------------------------

    def route_for(self, data_type: str) -> Route | None:
        return self._routes.get(data_type)

    def set_route(self, route: Route) -> None:
        """Replace a dataType's route as it is (modes beyond the single model are built by
        their own control records); its members must already be installed models."""
        self._routes[route.data_type] = route

    def serving_for(self, data_type: str) -> ServingModel | None:
        """The model that answers for the dataType: its route's primary."""
        route = self._routes.get(data_type)
        return route.primary if route is not None else None

    # -- control-plane transitions ----------------------------------------------------------

    def admit(self, descriptor: ModelDescriptor) -> ModelDescriptor:
        """Give the descriptor its version (highest seen + 1 by default) and apply the version
        rule: not older than, nor equal to, the serving version unless ``rollback``."""
        entry = self._models.get(descriptor.name)
        if descriptor.version is None:
            highest = entry.highest_version() if entry else 0
            descriptor = descriptor.with_version(highest + 1)
        assert descriptor.version is not None
        serving = entry.serving if entry else None
        if (
            serving is not None
            and descriptor.version <= serving.version
            and not descriptor.rollback
        ):
            raise DescriptorRejectedError(
                f"version {descriptor.version} is not newer than serving version "
                f'{serving.version} (set "rollback": true to go back)'
            )
        return descriptor

    def begin_load(self, descriptor: ModelDescriptor) -> None:
        self._entry(descriptor.name).record(self._version_record(descriptor, "loading"))

    def install(self, descriptor: ModelDescriptor, model: Model, sha256: str) -> ServingModel:
        """The atomic swap: from now on the dataType's records go to the new model, the
        primary of a new single-model route. The model it displaces (this name's previous
        version, or another name serving the dataType) is marked superseded and closed after
        its in-flight batches."""
        now = self._clock()
        new = ServingModel(descriptor, model, sha256)
        entry = self._entry(descriptor.name)
        route = self._routes.get(descriptor.data_type)
        displaced = [m for m in (entry.serving, route.primary if route else None) if m]
        for old in dict.fromkeys(displaced):
            self._end(old, "superseded", now)
        entry.serving = new
        self._routes[descriptor.data_type] = Route.single(new)
        record = self._version_record(descriptor, "serving")
        record.sha256 = sha256
        record.runtime = new.runtime
        entry.record(record)
        return new

    def fail(
        self,
        name: str,
        status: Literal["failed", "rejected", "expired"],
        error: str,
        descriptor: ModelDescriptor | None = None,
        version: int | None = None,
    ) -> None:
        """A descriptor that will not serve (or arrived after its expiry). The serving model,
        if any, is untouched."""
        if descriptor is not None:
            record = self._version_record(descriptor, status)
        else:
            record = VersionRecord(version=version, status=status, since=self._clock())
        record.error = error
        record.until = record.since
        self._entry(name).record(record)

    def retire(self, name: str) -> ServingModel | None:
        """Tombstone: the name stops serving; its dataType has no model until another comes."""
        entry = self._models.get(name)
        if entry is None or entry.serving is None:
            return None
        old = entry.serving
        self._end(old, "retired", self._clock())
        return old

    def expire(self, name: str, version: int) -> ServingModel | None:
        entry = self._models.get(name)
        if entry is None or entry.serving is None or entry.serving.version != version:
            return None
        old = entry.serving
        self._end(old, "expired", self._clock())
        return old

    def _end(self, old: ServingModel, status: Status, now: datetime) -> None:
        entry = self._models[old.name]
        if entry.serving is old:
            entry.serving = None
        route = self._routes.get(old.descriptor.data_type)
        if route is not None and route.primary is old:
            del self._routes[old.descriptor.data_type]
        elif route is not None and any(m.serving is old for m in route.members):
            # A side member that ends leaves the route; the primary keeps answering.
            members = [m for m in route.members if m.serving is not old]
            self._routes[route.data_type] = Route(route.data_type, members)
        record = entry.find(old.version, "serving")
        if record is not None:
            record.status = status
            record.until = now
        old.displace()

    def _entry(self, name: str) -> ModelEntry:
        entry = self._models.get(name)
        if entry is None:
            entry = self._models[name] = ModelEntry(name)
        return entry

    def _version_record(self, descriptor: ModelDescriptor, status: Status) -> VersionRecord:
        return VersionRecord(
            version=descriptor.version,
            status=status,
            since=self._clock(),
            data_type=descriptor.data_type,
            model_type=descriptor.model_type,
            description=descriptor.description,
            expires_at=descriptor.expires_at,
            sha256=descriptor.sha256,
            metadata=descriptor.metadata,
        )

    # -- queryable state --------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._models)

    def entry(self, name: str) -> ModelEntry | None:
        return self._models.get(name)

    def serving_count(self) -> int:
        return len(self.all_serving())

    def all_serving(self) -> list[ServingModel]:
        """Every model some route runs (each once)."""
        found = (m.serving for r in self._routes.values() for m in r.members)
        return list(dict.fromkeys(found))
