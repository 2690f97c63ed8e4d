"""Several processes' ``route`` part of ``/state/{dataType}`` as one: every mode's counters
summed, its latencies recomputed from their totals, a shadow's agreement weighted by the
records each part compared, a canary's or an ensemble's shares from the summed records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from service.state.routes import (
    Agreement,
    CandidateState,
    Latency,
    MemberStats,
    OtherRouteState,
    RouteState,
    ShadowRouteState,
    ShadowState,
    Share,
    SpeculativeRouteState,
    SplitRouteState,
)
from service.state.sums import instant, sum_counts, timed, weighted

# A shadow's last10000 covers at most this many of the records it compared.
AGREEMENT_WINDOW = 10_000
Part = TypeVar("Part")


def merge_route_states(parts: Sequence[RouteState]) -> RouteState | None:
    """Parts in another mode than the first (a route change under way) are left out; a mode
    this version does not know shows its members' stats only."""
    if not parts:
        return None
    first = parts[0]
    same = [p for p in parts if p.mode == first.mode]
    models = _merge_members([p.models for p in same])
    dated = [p.since for p in same if p.since]
    since = min(dated, key=instant) if dated else None
    if isinstance(first, ShadowRouteState):
        shadow = [p for p in same if isinstance(p, ShadowRouteState)]
        return ShadowRouteState(
            mode=first.mode,
            models=models,
            since=since,
            primary_latency=merge_latency([p.primary_latency for p in shadow]),
            shadows=_by_name([p.shadows for p in shadow], _merge_shadow),
        )
    if isinstance(first, SplitRouteState):
        split = [p for p in same if isinstance(p, SplitRouteState)]
        return SplitRouteState(
            mode=first.mode,
            models=models,
            since=since,
            usage=sum(p.usage for p in split),
            latency=merge_latency([p.latency for p in split]),
            members=_merge_shares([p.members for p in split]),
        )
    if isinstance(first, SpeculativeRouteState):
        raced = [p for p in same if isinstance(p, SpeculativeRouteState)]
        decided = timed(raced, [p.batches for p in raced])
        return SpeculativeRouteState(
            mode=first.mode,
            models=models,
            since=since,
            decider=first.decider,
            deadline=first.deadline,
            usage=sum(p.usage for p in raced),
            batches=decided.count,
            duration=decided.duration,
            min=decided.min,
            max=decided.max,
            candidates=_by_name([p.candidates for p in raced], _merge_candidates),
        )
    return OtherRouteState(mode=first.mode, models=models, since=since)


def merge_latency(parts: Sequence[Latency]) -> Latency:
    """Latencies (``avgPerRecord``, ``avgPerBatch``, ``maxPerBatch``) recomputed from the
    records, batches and total time each part timed."""
    records = sum(p.records for p in parts)
    batches = sum(p.batches for p in parts)
    total = round(sum(p.total_ms for p in parts), 3)
    return Latency(
        avg_per_record=round(total / records, 4) if records else 0.0,
        avg_per_batch=round(total / batches, 3) if batches else 0.0,
        max_per_batch=max((p.max_per_batch for p in parts), default=0.0),
        records=records,
        batches=batches,
        total_ms=total,
    )


def _merge_members(parts: Sequence[Mapping[str, MemberStats]]) -> dict[str, MemberStats]:
    """Each route member's serving stats: the newest version, usage and duration summed, the
    average per record recomputed."""
    merged: dict[str, tuple[int, int, float]] = {}
    for members in parts:
        for name, stats in members.items():
            version, usage, duration = merged.get(name, (stats.version, 0, 0.0))
            merged[name] = (
                max(version, stats.version),
                usage + stats.usage,
                round(duration + stats.duration, 3),
            )
    return {
        name: MemberStats(
            version=version,
            usage=usage,
            duration=duration,
            avg=round(duration / usage, 4) if usage else 0.0,
        )
        for name, (version, usage, duration) in merged.items()
    }


def _merge_shadow(parts: Sequence[ShadowState]) -> ShadowState:
    compared = [p.agreement.compared for p in parts]
    return ShadowState(
        agreement=Agreement(
            measure=parts[0].agreement.measure,
            since_start=weighted([p.agreement.since_start for p in parts], compared),
            # Each part's last10000 covers min(compared, 10,000) records of its own.
            last10000=weighted(
                [p.agreement.last10000 for p in parts],
                [min(c, AGREEMENT_WINDOW) for c in compared],
            ),
            compared=sum(compared),
        ),
        errors=sum(p.errors for p in parts),
        timeouts=sum(p.timeouts for p in parts),
        skipped=sum(p.skipped for p in parts),
        latency=merge_latency([p.latency for p in parts]),
    )


def _merge_shares(parts: Sequence[Mapping[str, Share]]) -> dict[str, Share]:
    records = sum_counts({n: m.records for n, m in members.items()} for members in parts)
    total = sum(records.values())
    return {
        name: Share(records=count, share=round(count / total, 6) if total else 0.0)
        for name, count in records.items()
    }


def _merge_candidates(parts: Sequence[CandidateState]) -> CandidateState:
    return CandidateState(wins=sum(p.wins for p in parts), timeouts=sum(p.timeouts for p in parts))


def _by_name(
    parts: Sequence[Mapping[str, Part]], merge: Callable[[list[Part]], Part]
) -> dict[str, Part]:
    """Each name's entries merged, names in the order they first came."""
    names = list(dict.fromkeys(name for part in parts for name in part))
    return {name: merge([part[name] for part in parts if name in part]) for name in names}
