"""The model a learner starts with: new, from its flags, or the restored one — which must be
what the flags describe. The restored state decides how the coefficients are read, the flags
how each record's row is built and what the next descriptor says: if they disagree, old
coefficients would be applied to other columns or labels, so the learner refuses to start
(one line, naming the difference). Only the learning rate may change across a restart: it
applies from the next record on, to the state as it was."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from service.learning.algorithms import OnlineModel
from service.learning.options import LearnerOptions
from service.learning.restore import CannotResumeError, Restored
from service.learning.state import InvalidStateError

log = logging.getLogger(__name__)


def starting_model(restored: Restored, options: LearnerOptions) -> OnlineModel:
    if restored.state is None:
        return OnlineModel(options.algorithm, options.inputs, options.labels, options.learning_rate)
    state = restored.state
    of = f"version {restored.version} of {options.name}"
    if restored.data_type is not None and restored.data_type != options.data_type:
        raise CannotResumeError(
            f"{of} is for dataType {restored.data_type}, not {options.data_type} (--data-type)"
        )
    if state["algorithm"] != options.algorithm:
        raise CannotResumeError(
            f"{of} was learned by {state['algorithm']}, not {options.algorithm} (--algorithm)"
        )
    if list(state["inputs"]) != list(options.inputs):
        raise CannotResumeError(
            f"{of} was learned on inputs {_names(state['inputs'])}, in that order; --inputs "
            f"gives {_names(options.inputs)}"
        )
    # Order does not matter for the classes: partial_fit sorts them, and so do the rows of
    # coefficients. The set does: a label the state has no coefficients for.
    restored_classes = state["classes"]
    if _as_set(restored_classes) != _as_set(options.labels):
        raise CannotResumeError(
            f"{of} was learned with labels {_names(restored_classes)}; --labels gives "
            f"{_names(options.labels)}"
        )
    if state["learning_rate"] != options.learning_rate:
        log.warning(
            "%s was learned with learning rate %s; going on with %s (--learning-rate)",
            of,
            _rate(state["learning_rate"]),
            _rate(options.learning_rate),
        )
        state = {**state, "learning_rate": options.learning_rate}
    try:
        return OnlineModel.from_state(state)
    except InvalidStateError as exc:
        raise CannotResumeError(
            f"{of} has a learner state that cannot be resumed from ({exc}): retire "
            f"{options.name} or publish a version to resume from"
        ) from exc


def _names(names: Sequence[str] | None) -> str:
    return "none" if not names else ",".join(names)


def _as_set(names: Sequence[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)


def _rate(rate: float | None) -> str:
    return "the default schedule" if rate is None else f"{rate:g}"
