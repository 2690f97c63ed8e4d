"""The route message: on the control topic, key ``route:<dataType>``, a JSON value naming the
models that answer for the dataType together and how. Routes are data as models are: they
replay in one order with them. ``schemas/route.schema.json`` is generated from these classes
(``make schemas``; a test keeps the two equal).

Here is what can be checked from the message alone; what needs the members loaded (their
label sets, their kinds) is ``incompatibility``, asked when they all serve."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from service.errors import DescriptorRejectedError
from service.runtimes.base import AnswerShape
from service.untrusted import (
    DEFAULT_MAX_JSON_DEPTH,
    MODEL_NAME_PATTERN,
    UnreadableJson,
    checked_model_name,
    field_names,
    loads,
    preview,
    unknown_keys,
)

ROUTE_KEY_PREFIX = "route:"
MODES = ("shadow", "canary", "ensemble", "speculative")
# Members a route may name: each costs a model call per batch; and a bound keeps a refusal's
# event and its validation cheap (one error per bad member otherwise).
MAX_MEMBERS = 64
# A model name (the descriptor's pattern); none starts with "route:", so route keys and
# model keys cannot collide on the control topic.
NAME_PATTERN = MODEL_NAME_PATTERN
ModelName = Annotated[str, Field(pattern=NAME_PATTERN), AfterValidator(checked_model_name)]


class RouteRejectedError(DescriptorRejectedError):
    """A route message that cannot be applied; nothing changes."""


class _Spec(BaseModel):
    model_config = ConfigDict(
        frozen=True, populate_by_name=True, extra="forbid", regex_engine="python-re"
    )

    # Whether ``incompatibility`` looks at the members' shapes: a replay that passes versions
    # over must know the shape of each member such a route checks (control/replay.py), so a
    # mode is taken to check them unless it says otherwise.
    checks_shapes: ClassVar[bool] = True

    kind: Literal["route"] = Field(description='Always "route".')
    data_type: str = Field(alias="dataType", min_length=1, description="The dataType routed.")

    @property
    def names(self) -> tuple[str, ...]:
        """The members, in the order the mode gives them (the answering one first)."""
        raise NotImplementedError

    def incompatibility(self, shapes: Mapping[str, AnswerShape | None]) -> str | None:
        """Why the loaded members cannot answer together, or None. Unknown shapes pass."""
        return None

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(by_alias=True, exclude_none=True))


def _distinct(names: list[str], what: str) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names a model twice")
    return names


class ShadowSpec(_Spec):
    """The primary answers; each shadow scores the same records, to the shadow topic."""

    mode: Literal["shadow"]
    primary: ModelName = Field(description="The model that answers.")
    shadows: list[ModelName] = Field(
        min_length=1, max_length=MAX_MEMBERS, description="Models scored beside it."
    )
    sample: float = Field(1.0, gt=0, le=1, description="Share of records shadowed (by key).")

    @field_validator("shadows")
    @classmethod
    def _shadows(cls, value: list[str]) -> list[str]:
        return _distinct(value, "shadows")

    @model_validator(mode="after")
    def _not_its_own_shadow(self) -> ShadowSpec:
        if self.primary in self.shadows:
            raise ValueError(f"{self.primary!r} is both the primary and a shadow")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return (self.primary, *self.shadows)

    def incompatibility(self, shapes: Mapping[str, AnswerShape | None]) -> str | None:
        return _same_kind(self.names, shapes, "a shadow must answer as its primary does")


class CanarySpec(_Spec):
    """Each record goes to one member, chosen by a stable hash of its key, by weight."""

    checks_shapes: ClassVar[bool] = False  # each record has one answer, from any kind of model

    mode: Literal["canary"]
    weights: dict[ModelName, float] = Field(
        min_length=1,
        max_length=MAX_MEMBERS,
        description="Model name → relative share of records (> 0).",
        json_schema_extra={
            "patternProperties": {NAME_PATTERN: {"type": "number", "exclusiveMinimum": 0}},
            "additionalProperties": False,
        },
    )

    @field_validator("weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"weight of {name!r} is {weight}: weights must be positive")
        return value

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)


class EnsembleSpec(_Spec):
    """Every member scores every record; their answers combine into one."""

    mode: Literal["ensemble"]
    members: list[ModelName] = Field(
        min_length=2, max_length=MAX_MEMBERS, description="The models combined."
    )
    combine: Literal["vote", "mean"] = Field(
        "vote", description="vote: majority label; mean: mean probabilities or values."
    )

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        return _distinct(value, "members")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.members)

    def incompatibility(self, shapes: Mapping[str, AnswerShape | None]) -> str | None:
        known = {n: s for n in self.members if (s := shapes.get(n)) is not None}
        kinds = {s.kind for s in known.values()}
        if kinds - {"classifier", "regressor"}:
            return "ensemble members must be classifiers or regressors"
        if len(kinds) > 1:
            return "ensemble members must all be classifiers or all regressors"
        if kinds == {"regressor"}:
            if self.combine == "vote":
                return "a vote needs classifiers; combine regressors with mean"
            if not all(s.scalar for s in known.values()):
                return "ensemble regressors must give one value per record"
            return None
        label_sets = {n: frozenset(s.classes) for n, s in known.items() if s.classes}
        if len(set(label_sets.values())) > 1:
            shown = ", ".join(f"{n}: {sorted(c)}" for n, c in label_sets.items())
            return f"ensemble members have different label sets ({shown})"
        if self.combine == "mean" and not all(s.probabilities for s in known.values()):
            return "mean needs every member's probabilities"
        return None


class SpeculativeSpec(_Spec):
    """Candidates score concurrently; at the deadline the decider picks among the finished."""

    mode: Literal["speculative"]
    candidates: list[ModelName] = Field(
        min_length=2, max_length=MAX_MEMBERS, description="The models raced."
    )
    deadline_ms: int = Field(
        alias="deadlineMs", gt=0, le=60_000, description="Per batch, from its scoring start."
    )
    decider: Literal["first-listed", "most-confident"] = Field(
        "first-listed", description="Which finished candidate answers."
    )

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value: list[str]) -> list[str]:
        return _distinct(value, "candidates")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.candidates)

    def incompatibility(self, shapes: Mapping[str, AnswerShape | None]) -> str | None:
        problem = _same_kind(self.names, shapes, "candidates must answer alike")
        unranked = any(s is not None and not s.probabilities for s in map(shapes.get, self.names))
        if problem is None and self.decider == "most-confident" and unranked:
            return "most-confident needs classifiers that give probabilities"
        return problem


RouteSpec = Annotated[
    ShadowSpec | CanarySpec | EnsembleSpec | SpeculativeSpec, Field(discriminator="mode")
]
_ADAPTER: TypeAdapter[RouteSpec] = TypeAdapter(RouteSpec)
# Each mode's field names (and their aliases), to refuse unknown keys before validation.
_FIELDS = {
    get_args(spec.model_fields["mode"].annotation)[0]: field_names(spec)
    for spec in (ShadowSpec, CanarySpec, EnsembleSpec, SpeculativeSpec)
}


def _same_kind(
    names: tuple[str, ...], shapes: Mapping[str, AnswerShape | None], why: str
) -> str | None:
    known = {n: s for n in names if (s := shapes.get(n)) is not None}
    if len({s.kind for s in known.values()}) > 1:
        shown = ", ".join(f"{n} is a {s.describe()}" for n, s in known.items())
        return f"{why} ({shown})"
    return None


def route_key(data_type: str) -> str:
    return ROUTE_KEY_PREFIX + data_type


def is_route_key(key: bytes | None) -> bool:
    return key is not None and key.startswith(ROUTE_KEY_PREFIX.encode())


def parse_route(key: bytes, value: bytes, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> RouteSpec:
    """The route a control record declares; RouteRejectedError says why not, in one line."""
    data_type = key.decode("utf-8", errors="replace")[len(ROUTE_KEY_PREFIX) :]
    try:
        document = loads(value, max_depth)
    except UnreadableJson as exc:
        raise RouteRejectedError(f"route is {exc}") from None
    if not isinstance(document, dict):
        raise RouteRejectedError("route must be a JSON object")
    mode = document.get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        shown = preview(mode)
        raise RouteRejectedError(f"unknown route mode {shown} (one of {', '.join(MODES)})")
    unknown = unknown_keys(document, _FIELDS[mode])
    if unknown is not None:
        raise RouteRejectedError(f"unknown field(s) for a {mode} route: {unknown}")
    try:
        spec = _ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise RouteRejectedError(_first_error(exc)) from exc
    if spec.data_type != data_type:
        raise RouteRejectedError(
            f"route key names dataType {data_type!r} but the route is for {spec.data_type!r}"
        )
    return spec


def route_schema() -> dict[str, Any]:
    return _ADAPTER.json_schema(by_alias=True)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"][1:]) or "route"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"
