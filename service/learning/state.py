"""The shape of a learner's training state as JSON, checked before it is used: the state comes
back from a descriptor's metadata on the control topic, which anything with write access to
the topic can have written, so a restarted learner trusts none of it unchecked."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.errors import ModelServeError

# The state travels in a version's descriptor metadata; linear models are far smaller.
MAX_STATE_BYTES = 256 * 1024
STATE_FORMAT = 1

# Strict: a string or a boolean where a number belongs is damage, not something to coerce.
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
Count = Annotated[int, Field(strict=True, ge=0)]
Name = Annotated[str, Field(strict=True, min_length=1)]


M = TypeVar("M", bound=BaseModel)


class InvalidStateError(ModelServeError, ValueError):
    """A learner state (or the metadata around it) that cannot be resumed from; the message
    is one line. Not retriable: the state is data, and reads the same next time."""


class _Checked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScalerState(_Checked):
    mean_: list[Finite]
    var_: list[NonNegative]
    scale_: list[Positive]  # StandardScaler keeps 1.0, not 0.0, for a constant feature
    n_samples_seen_: Positive | list[Positive]


class LinearState(_Checked):
    coef_: list[Finite] | list[list[Finite]]
    intercept_: list[Finite]
    t_: Positive
    classes_: list[Name] | None


class StateShape(_Checked):
    format: Annotated[int, Field(strict=True)]
    algorithm: Name
    inputs: Annotated[list[Name], Field(min_length=1)]
    classes: list[Name] | None
    learning_rate: Positive | None
    learned: Count
    scaler: ScalerState | None
    model: LinearState | None

    @model_validator(mode="after")
    def _consistent(self) -> StateShape:
        if self.format != STATE_FORMAT:
            raise ValueError(f"unknown learner state format {self.format!r}")
        if (self.learned == 0) != (self.scaler is None) or (self.scaler is None) != (
            self.model is None
        ):
            raise ValueError("scaler and model must be present exactly when records were learned")
        if self.scaler is not None:
            width = len(self.inputs)
            sizes = {len(self.scaler.mean_), len(self.scaler.var_), len(self.scaler.scale_)}
            if sizes != {width}:
                raise ValueError(f"the scaler's statistics are not {width} long, one per input")
        return self


class LearnerMetadata(BaseModel):
    """``metadata.learner`` of a version a learner published (other keys are passed over)."""

    model_config = ConfigDict(frozen=True)

    state: dict[str, Any]
    # JSON object keys are text: the partition is parsed from it; the offset must be a number.
    feedback_offsets: dict[
        Annotated[int, Field(ge=0)], Annotated[int, Field(strict=True, ge=0)]
    ] = Field(default_factory=dict, alias="feedbackOffsets")


def check_state(state: object) -> dict[str, Any]:
    """``state`` if it is a learner state of a known format, its numbers finite and of the
    right kinds, its arrays as long as its inputs and its JSON within MAX_STATE_BYTES; else
    InvalidStateError. The shapes of the coefficients are OnlineModel.from_state's to check."""
    if not isinstance(state, dict):
        raise InvalidStateError(f"the state is a JSON {type(state).__name__}, not an object")
    checked(StateShape, state)
    try:
        size = len(json.dumps(state, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:  # checked above; this is the last word on JSON
        raise InvalidStateError(f"the state is not plain JSON: {exc}") from exc
    if size > MAX_STATE_BYTES:
        raise InvalidStateError(
            f"the state takes {size} bytes of JSON, more than the {MAX_STATE_BYTES} allowed"
        )
    return state


def checked(model: type[M], value: object) -> M:
    """``value`` validated as ``model``, or InvalidStateError naming the first problem."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the state"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidStateError(f"{where}: {first['msg']}{more}") from exc
