"""The meeting point of the two planes: per dataType a route (which models score its records),
per name every version seen. The control plane changes it (begin a load, install, fail,
retire, expire; declare and remove routes) as its rules decide (control/rules.py); the scoring
plane reads routes. Owned by the event loop; every change is one synchronous method call, so a
swap is atomic with respect to the scoring loop.

Every name's latest version stays loaded until it is retired or expires: without a route the
dataType's most recently installed model answers and the others stand by (``standby``), ready
for a route to name them (routing/route_book.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from service.clock import Clock, SystemClock
from service.inputs.schema import InputSchema, TypedBatch
from service.routing.history import IN_SERVICE, ModelEntry, Status, VersionRecord
from service.routing.route_book import RouteBook, RouteChange
from service.routing.route_spec import RouteSpec
from service.routing.routes import SingleRoute
from service.runtimes.base import AnswerShape, BatchResult, Model, RuntimeInfo
from service.serving.descriptor import ModelDescriptor
from service.serving.model import ServingModel
from service.serving.route import Route

# Names whose every version was refused, kept for /models (the newest).
MAX_REFUSED_NAMES = 1000


class NotLoaded:
    """The model of a version a replay passes over (Registry.pass_over)."""

    runtime = RuntimeInfo("not loaded", "")

    def __init__(self, descriptor: ModelDescriptor) -> None:
        self.input_schema = descriptor.declared_schema() or InputSchema.numeric(
            descriptor.input_names() or ()
        )
        self._label = f"{descriptor.name}:{descriptor.version}"

    def predict(self, batch: TypedBatch) -> BatchResult:
        raise RuntimeError(f"{self._label} is not loaded: the control log is replaying")

    def close(self) -> None:
        pass


class Registry:
    def __init__(
        self,
        clock: Clock | None = None,
        shadow_timeout_s: float = 5.0,
        on_unload: Callable[[str, int], None] | None = None,
        on_unknown_shape: Callable[[ServingModel], None] | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        # Told (name, version) when a version's model is closed, after its last batch: what
        # is kept per version (metric series) can go then.
        self._on_unload = on_unload
        self._models: dict[str, ModelEntry] = {}
        self._routes: dict[str, Route] = {}
        self._installs = 0
        self._installed: dict[str, int] = {}  # name → when (in installs) it was installed
        self._refused: dict[str, None] = {}  # names that never served, oldest first
        # Told of each member whose unknown shape a route's check looked at (a replay's
        # stand-in): how the replay's rehearsal learns which stand-ins it must load.
        self.book = RouteBook(
            shadow_timeout_s, on_unknown_shape=on_unknown_shape, now=self._clock.now
        )

    # -- the hot path -----------------------------------------------------------------------

    def route_for(self, data_type: str) -> Route | None:
        return self._routes.get(data_type)

    def serving_for(self, data_type: str) -> ServingModel | None:
        """The model that answers for the dataType: its route's primary."""
        route = self._routes.get(data_type)
        return route.primary if route is not None else None

    # -- control-plane transitions ----------------------------------------------------------

    def begin_load(self, descriptor: ModelDescriptor) -> None:
        self._entry(descriptor.name).record(self._version_record(descriptor, "loading"))

    def install(
        self,
        descriptor: ModelDescriptor,
        model: Model,
        sha256: str,
        shape: AnswerShape | None = None,
    ) -> ServingModel:
        """The atomic swap: from now on the dataType's records go to the new model (alone, or
        in its place in the dataType's route; a model a route does not name stands by). This
        name's previous version is marked superseded and closed after its in-flight batches."""
        new = ServingModel(descriptor, model, sha256, shape, self._on_unload)
        self._refused.pop(descriptor.name, None)  # it serves now: kept for good
        entry = self._entry(descriptor.name)
        old = entry.serving
        if old is not None:
            self._end(old, "superseded", self._clock.now(), settle=False)
        entry.serving = new
        self._installs += 1
        self._installed[descriptor.name] = self._installs
        record = self._version_record(descriptor, "serving")
        record.sha256 = sha256
        record.runtime = new.runtime
        record.schema = model.input_schema.document()
        entry.record(record)
        self._settle(descriptor.data_type)
        if old is not None and old.descriptor.data_type != descriptor.data_type:
            self._settle(old.descriptor.data_type)
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
            record = VersionRecord(version=version, status=status, since=self._clock.now())
        record.error = error
        record.until = record.since
        self._entry(name).record(record)
        self._forget_oldest_refused(name)

    def _forget_oldest_refused(self, name: str) -> None:
        """Names that never served are kept for /models, the newest ``MAX_REFUSED_NAMES``: a
        stream of junk descriptors under ever-new names must not grow the state (and every
        snapshot) without end. A name that served is never forgotten here."""
        self._refused.pop(name, None)
        if name not in self._installed:  # never served
            self._refused[name] = None
        while len(self._refused) > MAX_REFUSED_NAMES:
            oldest = next(iter(self._refused))
            del self._refused[oldest]
            if oldest not in self._installed:
                self._models.pop(oldest, None)

    def retire(self, name: str) -> ServingModel | None:
        """Tombstone: the name stops serving; its dataType goes to its latest other model (or
        its route, if it still has all its members), else has none until one comes."""
        entry = self._models.get(name)
        if entry is None or entry.serving is None:
            return None
        old = entry.serving
        self._end(old, "retired", self._clock.now())
        return old

    def pass_over(
        self, descriptor: ModelDescriptor, shape: AnswerShape | None = None
    ) -> ServingModel:
        """A version that a later record of the same replay ends (a newer version, a
        tombstone), so is not loaded: it stands in without a model until that record, so that
        the history and the routes go as they went where it served. ``shape``: its answers',
        when the replay loaded it to learn them because a route checks them; unknown, it
        passes any check, and the replay makes sure no check sees it. Data waits for the
        replay; a request meanwhile (HTTP, before the replica is ready) gets a scoring error."""
        stand_in = self.install(descriptor, NotLoaded(descriptor), descriptor.sha256 or "", shape)
        record = self._models[descriptor.name].find(stand_in.version, *IN_SERVICE)
        if record is not None:
            record.sha256, record.runtime, record.schema = descriptor.sha256, None, None
        return stand_in

    def expire(self, name: str, version: int) -> ServingModel | None:
        entry = self._models.get(name)
        if entry is None or entry.serving is None or entry.serving.version != version:
            return None
        old = entry.serving
        self._end(old, "expired", self._clock.now())
        return old

    def _end(self, old: ServingModel, status: Status, now: datetime, settle: bool = True) -> None:
        entry = self._models[old.name]
        if entry.serving is old:
            entry.serving = None
        record = entry.find(old.version, *IN_SERVICE)
        if record is not None:
            record.status = status
            record.until = now
        if settle:
            self._settle(old.descriptor.data_type)
        old.displace()

    # -- routes -----------------------------------------------------------------------------

    def declare_route(self, spec: RouteSpec) -> None:
        self.book.declare(spec, self._serving_of(spec.data_type))
        self._settle(spec.data_type)

    def remove_route(self, data_type: str) -> None:
        self.book.remove(data_type)
        self._settle(data_type)

    def reject_route(self, data_type: str, error: str) -> None:
        self.book.reject(data_type, None, error)

    def take_route_changes(self) -> list[RouteChange]:
        """What became of routes since last asked (for the control plane's events)."""
        return self.book.take_changes()

    def _serving_of(self, data_type: str) -> dict[str, ServingModel]:
        return {
            name: entry.serving
            for name, entry in self._models.items()
            if entry.serving is not None and entry.serving.descriptor.data_type == data_type
        }

    def _settle(self, data_type: str) -> None:
        """The dataType's route again, from its declared route and the models serving it:
        the active route, else its most recently installed model alone. A model it does not
        run stands by."""
        serving = self._serving_of(data_type)
        self.book.settle(data_type, serving)
        route = self.book.route(data_type, serving)
        if route is None and serving:
            latest = max(serving, key=lambda name: self._installed.get(name, 0))
            route = SingleRoute(serving[latest])
        if route is None:
            self._routes.pop(data_type, None)
        else:
            self._routes[data_type] = route
        running = {m.name for m in route.members} if route is not None else set()
        for name, model in serving.items():
            record = self._models[name].find(model.version, *IN_SERVICE)
            if record is not None:
                record.status = "serving" if name in running else "standby"

    def _entry(self, name: str) -> ModelEntry:
        entry = self._models.get(name)
        if entry is None:
            entry = self._models[name] = ModelEntry(name)
        return entry

    def _version_record(self, descriptor: ModelDescriptor, status: Status) -> VersionRecord:
        return VersionRecord(
            version=descriptor.version,
            status=status,
            since=self._clock.now(),
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
        """Models loaded (answering or standing by)."""
        return len(self.all_serving())

    def all_serving(self) -> list[ServingModel]:
        """Every model loaded (answering or standing by)."""
        return [e.serving for e in self._models.values() if e.serving is not None]

    def routes(self) -> dict[str, Route]:
        return dict(self._routes)
