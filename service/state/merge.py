"""Several processes' figures as one: the ``/stats`` totals and the ``/state/{dataType}``
documents of a container's workers (the supervisor) or of a cluster's replicas (``/cluster``,
``?scope=cluster``). Counts and cumulative durations add up; minimums and maximums are taken;
averages and shares are recomputed from the merged sums, never averaged; an agreement is
weighted by the records each part compared (route_merge.py). Pure functions over the typed
documents each process publishes, so a merged figure equals the sum a user computes from the
parts' own answers."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from service.state.models import ModelVersion
from service.state.process import ProcessStats
from service.state.route_merge import merge_route_states
from service.state.serving import ServingState
from service.state.shapes import absent
from service.state.sums import instant, sum_counts, timed


class MergedState(ServingState):
    """``/state/{dataType}`` of several processes; ``otherVersions`` names the parts still on
    another version than the newest (a swap under way), left out of the sums."""

    other_versions: list[ModelVersion] | None = Field(
        None, alias="otherVersions", exclude_if=absent
    )


def merge_stats(parts: Sequence[ProcessStats]) -> ProcessStats:
    """``/stats`` of several processes: counts summed, ``avgBatchSize`` from the summed
    records and batches, dead letters summed by reason, ``models`` and ``uptime`` the
    largest (every process serves the same models; the oldest has run longest)."""
    batches = sum(p.batches for p in parts)
    batched = sum(p.batched_records for p in parts)
    return ProcessStats(
        consumed=sum(p.consumed for p in parts),
        scored=sum(p.scored for p in parts),
        dlq=sum(p.dlq for p in parts),
        batches=batches,
        batched_records=batched,
        avg_batch_size=round(batched / batches, 2) if batches else 0.0,
        scoring_ms=round(sum(p.scoring_ms for p in parts), 3),
        dead_letters=sum_counts(p.dead_letters for p in parts),
        models=max((p.models for p in parts), default=0),
        uptime=max((p.uptime for p in parts), default=0.0),
    )


def merge_states(parts: Sequence[ServingState]) -> MergedState | None:
    """The figures of parts serving the same model and version as the most recent one are
    merged; a part still on another version is named in ``otherVersions``."""
    if not parts:
        return None
    newest = max(parts, key=lambda p: (instant(p.since), p.version))
    shown = (newest.name, newest.version)
    same = [p for p in parts if (p.name, p.version) == shown]
    others = [
        ModelVersion(name=p.name, version=p.version) for p in parts if (p.name, p.version) != shown
    ]
    used = timed(same, [p.usage for p in same])
    return MergedState(
        name=newest.name,
        description=newest.description,
        model_type=newest.model_type,
        version=newest.version,
        since=min((p.since for p in same), key=instant),
        usage=used.count,
        duration=used.duration,
        min=used.min,
        max=used.max,
        avg=used.avg,
        route=merge_route_states([p.route for p in same if p.route is not None]),
        other_versions=others or None,
    )
