"""Records that wait, as pure code: which outcomes of a batch go out now and which partitions
hold their place, and until when.

A partition stops at its first record that cannot be answered now through no fault of its
own: its dataType has no model (NO_MODEL_POLICY=wait), or its model is on a server that does
not answer (a REMOTE model's endpoint unreachable, failing or slow: ModelUnavailableError).
That record and every later one of the same partition are held back (not produced, not
committed) and will be read again: once a model arrives, or after the remote's back-off; so
the partition's order is kept. Other partitions, and the records of the held partition before
that point, go out as usual. A record held for longer than MODELSERVE_REMOTE_GIVE_UP_S, when
set, goes out as a dead letter saying so instead."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.errors import ModelUnavailableError, NoModelError
from service.scoring.outcome import Outcome

Partition = tuple[str, int]


@dataclass(frozen=True)
class Hold:
    offset: int  # the first held record: where reading resumes
    data_type: str  # the model it waits for
    # None: until a model for the dataType serves; else: read again after this many seconds.
    retry_after_s: float | None = None


def hold_back(
    outcomes: Sequence[Outcome],
    hold_no_model: bool = True,
    gave_up: Callable[[Partition], float | None] = lambda partition: None,
) -> tuple[list[Outcome], dict[Partition, Hold], set[Partition]]:
    """The outcomes to produce now, the partitions to pause (with where they stop), and the
    partitions whose model's server did not answer (held, or given up: still waiting for it,
    as far as the give-up bound goes). ``gave_up(partition)``: the seconds the partition has
    waited for a remote model's server, when that is past the give-up bound (its unavailable
    records then go out as dead letters, every one of them, and it holds no more)."""
    holds: dict[Partition, Hold] = {}
    given_up: dict[int, Outcome] = {}
    unanswered: set[Partition] = set()
    for i, outcome in enumerate(outcomes):
        error = outcome.error
        hold = None
        if isinstance(error, ModelUnavailableError) and error.data_type is not None:
            part = (outcome.record.topic, outcome.record.partition)
            unanswered.add(part)
            waited = gave_up(part)
            if waited is not None:
                given_up[i] = _given_up(outcome, error, waited)
                continue
            hold = Hold(outcome.record.offset, error.data_type, error.retry_after_s)
        elif hold_no_model and isinstance(error, NoModelError) and error.data_type is not None:
            hold = Hold(outcome.record.offset, error.data_type)
        if hold is not None:
            part = (outcome.record.topic, outcome.record.partition)
            if part not in holds or hold.offset < holds[part].offset:
                holds[part] = hold
    if given_up:
        outcomes = [given_up.get(i, o) for i, o in enumerate(outcomes)]
    if not holds:
        return list(outcomes), holds, unanswered
    kept = [
        o
        for o in outcomes
        if (hold := holds.get((o.record.topic, o.record.partition))) is None
        or o.record.offset < hold.offset
    ]
    return kept, holds, unanswered


def _given_up(outcome: Outcome, error: ModelUnavailableError, waited: float) -> Outcome:
    why = ModelUnavailableError(
        f"{error}; gave up after waiting {waited:.0f} s (MODELSERVE_REMOTE_GIVE_UP_S)",
        error.retry_after_s,
        error.data_type,
    )
    return Outcome(
        outcome.record,
        error=why,
        model=outcome.model,
        record_id=outcome.record_id,
        data_type=outcome.data_type,
        scored_ms=outcome.scored_ms,
    )
