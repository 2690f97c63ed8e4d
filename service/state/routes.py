"""The ``route`` part of ``/state/{dataType}`` (and the ``stats`` of ``/routes``): the mode,
each member's serving stats, and what the route itself has done, one type per mode, read from
the route book's stats (routing/route_stats.py).

Read back from other processes' snapshots, a route's document is told apart by its ``mode``;
a mode this version does not know (a newer writer's) is kept as it came rather than
refusing the whole snapshot, and so are keys it does not know."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from service.clock import iso
from service.routing import route_stats
from service.routing.registry import Registry
from service.serving.model import ServingModel
from service.state.shapes import Count, IsoTime, OpenShape, absent

KNOWN_MODES = ("shadow", "canary", "ensemble", "speculative")


class Latency(OpenShape):
    """Batches timed, in ms, with the records, batches and total they come from, so that
    several processes' latencies merge exactly."""

    avg_per_record: float = Field(0.0, alias="avgPerRecord")
    avg_per_batch: float = Field(0.0, alias="avgPerBatch")
    max_per_batch: float = Field(0.0, alias="maxPerBatch")
    records: Count = 0
    batches: Count = 0
    total_ms: float = Field(0.0, alias="totalMs")

    @classmethod
    def of(cls, latency: route_stats.Latency) -> Latency:
        records, batches, total = latency.records, latency.batches, latency.total_ms
        return cls(
            avg_per_record=round(total / records, 4) if records else 0.0,
            avg_per_batch=round(total / batches, 3) if batches else 0.0,
            max_per_batch=round(latency.max_ms, 3),
            records=records,
            batches=batches,
            total_ms=round(total, 3),
        )


class MemberStats(OpenShape):
    """A route member's own serving stats (Lightbend's ModelToServeStats, in short)."""

    version: int
    usage: Count = 0
    duration: float = 0.0
    avg: float = 0.0

    @classmethod
    def of(cls, serving: ServingModel) -> MemberStats:
        stats = serving.stats
        return cls(
            version=serving.version,
            usage=stats.usage,
            duration=round(stats.duration_ms, 3),
            avg=round(stats.avg_ms, 4),
        )


class Agreement(OpenShape):
    """A shadow against the primary: ``labelAgreement`` (the share of equal labels) or
    ``meanAbsoluteDifference`` (regressors), since the route started and over the last
    10,000 records both answered; null before any."""

    measure: str
    since_start: float | None = Field(None, alias="sinceStart")
    last10000: float | None = None
    compared: Count = 0


class ShadowState(OpenShape):
    agreement: Agreement
    errors: Count = 0
    timeouts: Count = 0
    skipped: Count = 0
    latency: Latency

    @classmethod
    def of(cls, member: route_stats.ShadowMember) -> ShadowState:
        since, recent = member.agreement(), member.window.mean()
        return cls(
            agreement=Agreement(
                measure="labelAgreement" if member.labels else "meanAbsoluteDifference",
                since_start=None if since is None else round(since, 6),
                last10000=None if recent is None else round(recent, 6),
                compared=member.compared,
            ),
            errors=member.errors,
            timeouts=member.timeouts,
            skipped=member.skipped,
            latency=Latency.of(member.latency),
        )


class Share(OpenShape):
    records: Count = 0
    share: float = 0.0


class CandidateState(OpenShape):
    wins: Count = Field(0, description="Records it answered.")
    timeouts: Count = Field(0, description="Batches it did not finish by the deadline.")


class RouteStateBase(OpenShape):
    """What every mode shows: the mode, each member's serving stats, and since when the route
    has been active (left out of a merge none of whose parts said)."""

    mode: str
    models: dict[str, MemberStats] = Field(default_factory=dict)
    since: IsoTime | None = Field(None, exclude_if=absent)


class ShadowRouteState(RouteStateBase):
    mode: Literal["shadow"]
    primary_latency: Latency = Field(alias="primaryLatency")
    shadows: dict[str, ShadowState] = Field(default_factory=dict)


class SplitRouteState(RouteStateBase):
    """A canary or an ensemble: records the route answered, and those each member scored."""

    mode: Literal["canary", "ensemble"]
    usage: Count = 0
    latency: Latency = Field(default_factory=Latency)
    members: dict[str, Share] = Field(default_factory=dict)


class SpeculativeRouteState(RouteStateBase):
    """Lightbend's SpeculativeExecutionStats: ``duration``, ``min`` and ``max`` are per batch,
    in ms, from its start to its decision."""

    mode: Literal["speculative"]
    decider: str | None = None
    deadline: int | None = None
    usage: Count = 0
    batches: Count = 0
    duration: float = 0.0
    min: float = 0.0
    max: float = 0.0
    candidates: dict[str, CandidateState] = Field(default_factory=dict)


class OtherRouteState(RouteStateBase):
    """A mode this version does not know, from a newer writer: kept as it came."""

    mode: str = Field(json_schema_extra={"not": {"enum": list(KNOWN_MODES)}})


def _kind(value: Any) -> str:
    mode = value.get("mode") if isinstance(value, dict) else getattr(value, "mode", None)
    if mode in ("canary", "ensemble"):
        return "split"
    return mode if mode in KNOWN_MODES else "other"


RouteState = Annotated[
    Annotated[ShadowRouteState, Tag("shadow")]
    | Annotated[SplitRouteState, Tag("split")]
    | Annotated[SpeculativeRouteState, Tag("speculative")]
    | Annotated[OtherRouteState, Tag("other")],
    Discriminator(_kind),
]


def route_state(registry: Registry, data_type: str) -> RouteState | None:
    """The answering route's state; None for a model alone (no route of its own)."""
    route = registry.route_for(data_type)
    if route is None or route.mode == "single":
        return None
    active = registry.book.active.get(data_type)
    if active is None or active.stats is None:  # not so while a route answers; shown bare
        models = {m.name: MemberStats.of(m) for m in route.members}
        return OtherRouteState(mode=route.mode, models=models)
    return route_stats_state(route.mode, active.stats, route.members)


def route_stats_state(
    mode: str, stats: route_stats.RouteStats, members: Sequence[ServingModel]
) -> RouteState:
    """A route's stats as its mode shows them, with ``members``' serving stats."""
    models = {m.name: MemberStats.of(m) for m in members}
    since = iso(stats.since)
    if isinstance(stats, route_stats.ShadowStats):
        return ShadowRouteState(
            mode="shadow",
            models=models,
            since=since,
            primary_latency=Latency.of(stats.primary),
            shadows={name: ShadowState.of(m) for name, m in stats.members().items()},
        )
    if isinstance(stats, route_stats.SplitStats):
        total = sum(stats.answered.values())
        return SplitRouteState(
            mode=mode,
            models=models,
            since=since,
            usage=stats.usage,
            latency=Latency.of(stats.latency),
            members={
                name: Share(records=count, share=round(count / total, 6) if total else 0.0)
                for name, count in stats.answered.items()
            },
        )
    return SpeculativeRouteState(
        mode="speculative",
        models=models,
        since=since,
        decider=stats.decider,
        deadline=stats.deadline_ms,
        usage=stats.usage,
        batches=stats.batches,
        duration=round(stats.duration_ms, 3),
        min=round(stats.min_ms or 0.0, 3),
        max=round(stats.max_ms or 0.0, 3),
        candidates={
            name: CandidateState(wins=c.wins, timeouts=c.timeouts)
            for name, c in stats.candidates.items()
        },
    )
