"""``GET /health/ready``, typed: whether the process is ready and each check it is made of
(which checks there are is the composition root's to say: the broker reached, the control
topic caught up, partitions assigned), and a container's readiness as all of its workers'.
Each check is written under its own name right after ``ready``, as orchestrators and the
dashboard read it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from service.state.shapes import Shape, WorkerIndex, absent


class Readiness(Shape):
    """``checks`` are a field of their own, so that code reads them by name; they are written
    flat after ``ready`` (``_flatten``) and read back from that form (``_gather``), which is
    what clients have always seen."""

    ready: bool
    checks: dict[str, bool] = Field(default_factory=dict)
    # Why not ready, where the process knows (Kafka refused it: a wrong password, an unknown
    # CA); left out when it has nothing to say.
    reason: str | None = Field(None, exclude_if=absent)
    # REMOTE models' servers that do not answer (their breakers open): named, while readiness
    # stays true (the rest serves, and their records wait); left out when there are none.
    endpoints_down: list[str] = Field(
        default_factory=list, alias="endpointsDown", exclude_if=lambda value: not value
    )

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, value: Any) -> Any:
        """Read from the written form: every key that is not a field is a check."""
        if not isinstance(value, dict) or "checks" in value:
            return value
        named = {field.alias or name for name, field in cls.model_fields.items()}
        named.discard("checks")
        return {
            **{key: v for key, v in value.items() if key in named},
            "checks": {key: v for key, v in value.items() if key not in named},
        }

    @model_serializer(mode="wrap")
    def _flatten(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Each check in place of ``checks``, right after ``ready``, before what follows."""
        written: dict[str, Any] = write(self)
        checks = written.pop("checks", {})
        flat: dict[str, Any] = {}
        for key, value in written.items():
            flat[key] = value
            if key == "ready":
                flat.update(checks)
        return flat


class WorkerReadiness(Readiness, WorkerIndex):
    """A worker's answer, its index first."""


class ContainerReadiness(Readiness):
    """Ready when every worker is; a check holds when it holds in every worker (a worker
    that does not say holds none)."""

    workers: list[WorkerReadiness]


def merge_readiness(parts: Sequence[tuple[int, Readiness]]) -> ContainerReadiness:
    """``parts``: each worker's index and its readiness (not ready when it did not answer)."""
    names = dict.fromkeys(name for _, part in parts for name in part.checks)
    reasons = [part.reason for _, part in parts if part.reason is not None]
    down = dict.fromkeys(url for _, part in parts for url in part.endpoints_down)
    return ContainerReadiness(
        ready=all(part.ready for _, part in parts),
        checks={name: all(part.checks.get(name, False) for _, part in parts) for name in names},
        reason=reasons[0] if reasons else None,
        endpoints_down=list(down),
        workers=[
            WorkerReadiness(
                worker=worker,
                ready=part.ready,
                checks=part.checks,
                reason=part.reason,
                endpoints_down=part.endpoints_down,
            )
            for worker, part in parts
        ],
    )
