"""NO_MODEL_POLICY=wait, as pure code: which outcomes of a batch go out now and which
partitions wait for a model.

A partition stops at its first record whose dataType has no model: that record and every
later one of the same partition are held back (not produced, not committed) and will be read
again once a model arrives, so the partition's order is kept. Other partitions, and the
records of the held partition before that point, go out as usual."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.errors import NoModelError
from service.scoring.outcome import Outcome

Partition = tuple[str, int]


@dataclass(frozen=True)
class Hold:
    offset: int  # the first held record: where reading resumes
    data_type: str  # the model it waits for


def hold_back(outcomes: Sequence[Outcome]) -> tuple[list[Outcome], dict[Partition, Hold]]:
    """The outcomes to produce now, and the partitions to pause (with where they stop)."""
    holds: dict[Partition, Hold] = {}
    for outcome in outcomes:
        error = outcome.error
        if isinstance(error, NoModelError) and error.data_type is not None:
            part = (outcome.record.topic, outcome.record.partition)
            if part not in holds or outcome.record.offset < holds[part].offset:
                holds[part] = Hold(outcome.record.offset, error.data_type)
    if not holds:
        return list(outcomes), holds
    kept = [
        o
        for o in outcomes
        if (hold := holds.get((o.record.topic, o.record.partition))) is None
        or o.record.offset < hold.offset
    ]
    return kept, holds
