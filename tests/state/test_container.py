"""A container's ``/stats`` and ``/state/{dataType}``: the workers' figures merged, each
worker's own beside the sum (its index first), the ones that did not answer after them, and
the supervisor's own uptime."""

from __future__ import annotations

from service.state.container import Unanswered, container_state, container_stats
from service.state.merge import merge_states, merge_stats
from service.state.process import ProcessStats
from service.state.serving import ServingState
from service.state.shapes import encode


def test_stats_are_summed_with_each_workers_own_beside_them() -> None:
    parts = [(0, ProcessStats(scored=3, uptime=9.0)), (1, ProcessStats(scored=4, uptime=8.0))]
    missing = [Unanswered(worker=2, error="answered 503")]
    written = encode(container_stats(parts, missing, uptime=1.5))
    merged = encode(merge_stats([stats for _, stats in parts]))
    assert written == {
        **merged,
        "uptime": 1.5,
        "workers": [
            {"worker": 0, **encode(parts[0][1])},
            {"worker": 1, **encode(parts[1][1])},
            {"worker": 2, "error": "answered 503"},
        ],
    }
    assert list(written) == [*merged, "workers"] and written["scored"] == 7
    assert list(written["workers"][0]) == ["worker", *merged]


def test_a_state_is_merged_with_what_each_worker_contributed() -> None:
    def state(usage: int) -> ServingState:
        return ServingState(name="rf", version=2, usage=usage, duration=usage / 10)

    parts = [(0, state(10)), (1, state(30))]
    found = container_state(parts, [Unanswered(worker=2, error="ConnectError: gone")])
    merged = merge_states([s for _, s in parts])
    assert found is not None and merged is not None
    assert encode(found) == {
        **encode(merged),
        "workers": [
            {"worker": 0, "name": "rf", "version": 2, "usage": 10, "duration": 1.0},
            {"worker": 1, "name": "rf", "version": 2, "usage": 30, "duration": 3.0},
            {"worker": 2, "error": "ConnectError: gone"},
        ],
    }
    assert container_state([], []) is None
