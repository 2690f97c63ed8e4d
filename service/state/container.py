"""A container's ``/stats`` and ``/state/{dataType}`` under ``WORKERS=N``, typed: its workers'
figures merged (merge.py), each worker's own beside the sum under ``workers``, and a line for
each worker that did not answer, so that a user can check the sum and see who is missing from
it. The supervisor reads its workers' snapshots into the state's types and merges them here."""

from __future__ import annotations

from collections.abc import Sequence

from service.state.merge import MergedState, merge_states, merge_stats
from service.state.process import ProcessStats
from service.state.serving import ServingState
from service.state.shapes import Count, Shape, WorkerIndex


class Unanswered(Shape):
    """A worker left out of a merge: it did not answer, or answered what is not a snapshot."""

    worker: int
    error: str


class WorkerStats(ProcessStats, WorkerIndex):
    """A worker's own ``/stats``, its index first."""


class ContainerStats(ProcessStats):
    """The workers' ``/stats`` merged, ``uptime`` the supervisor's own."""

    workers: list[WorkerStats | Unanswered]


class WorkerState(Shape):
    """What one worker contributed to a merged ``/state/{dataType}``."""

    worker: int | None
    name: str
    version: int
    usage: Count
    duration: float


class ContainerState(MergedState):
    """The workers' ``/state/{dataType}`` merged, what each contributed after the sums."""

    workers: list[WorkerState | Unanswered]


def container_stats(
    parts: Sequence[tuple[int | None, ProcessStats]],
    missing: Sequence[Unanswered],
    uptime: float,
) -> ContainerStats:
    """``parts``: each answering worker's index and ``/stats``."""
    merged = merge_stats([stats for _, stats in parts])
    return ContainerStats(
        **{**dict(merged), "uptime": uptime},
        workers=[*(WorkerStats(worker=w, **dict(stats)) for w, stats in parts), *missing],
    )


def container_state(
    parts: Sequence[tuple[int | None, ServingState]], missing: Sequence[Unanswered]
) -> ContainerState | None:
    """``parts``: each answering worker's index and its ``/state`` of the dataType; None when
    no worker serves it."""
    merged = merge_states([state for _, state in parts])
    if merged is None:
        return None
    contributed = [
        WorkerState(
            worker=w,
            name=state.name,
            version=state.version,
            usage=state.usage,
            duration=state.duration,
        )
        for w, state in parts
    ]
    return ContainerState(**dict(merged), workers=[*contributed, *missing])
