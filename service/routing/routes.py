"""A route per dataType: which models score its records, and how their results make each
record's outcome. The engine asks the route; it knows no mode.

Today's route is the simplest form: one member, the latest model for the dataType, whose
result is the answer. Members of other roles (a shadow, say) score the same rows; their
results travel with the outcome as side results, which the output writer sends to the topic
of their role and the committer waits for like any other output. New modes (canary,
ensemble, speculative) are new Route kinds: new ``members`` and ``combine``, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.errors import RecordError
from service.routing.serving import ServingModel

PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class Member:
    serving: ServingModel
    role: str = PRIMARY  # "primary" answers; any other role is a side result


@dataclass(frozen=True, slots=True)
class MemberScores:
    """One member's answer for each scored row of a batch: the ``result`` JSON, or why not."""

    member: Member
    rows: Sequence[bytes | RecordError]


@dataclass(frozen=True, slots=True)
class SideResult:
    """A result that is not the record's answer: it goes to its role's topic."""

    serving: ServingModel
    role: str
    result_json: bytes


@dataclass(frozen=True, slots=True)
class Answers:
    """Column-wise, per scored row: the model that answered, the answer, and side results
    (None when the route has none, the common case, which costs nothing per row)."""

    models: Sequence[ServingModel]
    results: Sequence[bytes | RecordError]
    sides: Sequence[tuple[SideResult, ...]] | None = None


class Route:
    def __init__(self, data_type: str, members: Sequence[Member]) -> None:
        if not members or members[0].role != PRIMARY:
            raise ValueError("a route's first member is its primary model")
        self.data_type = data_type
        self._members = tuple(members)

    @classmethod
    def single(cls, serving: ServingModel) -> Route:
        """Today's behaviour: the one model serving the dataType."""
        return cls(serving.descriptor.data_type, [Member(serving)])

    @property
    def primary(self) -> ServingModel:
        return self._members[0].serving

    @property
    def members(self) -> tuple[Member, ...]:
        """The models to run on a batch, primary first."""
        return self._members

    def combine(self, scores: Sequence[MemberScores]) -> Answers:
        """The primary's result answers each row; every other member's successful result on
        the row is a side result (a side model's failure costs the record nothing)."""
        primary = scores[0]
        models = [primary.member.serving] * len(primary.rows)
        if len(scores) == 1:
            return Answers(models, primary.rows)
        sides: list[tuple[SideResult, ...]] = []
        for i in range(len(primary.rows)):
            row: list[SideResult] = []
            for side in scores[1:]:
                result = side.rows[i]
                if isinstance(result, bytes):
                    row.append(SideResult(side.member.serving, side.member.role, result))
            sides.append(tuple(row))
        return Answers(models, primary.rows, sides)
