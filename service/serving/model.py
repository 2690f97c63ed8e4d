"""A model in service: its descriptor, the loaded model, how records bind to its inputs, its
serving statistics (Lightbend's ModelToServeStats), and its life: batches hold it while they
score, and a displaced model is closed after its last in-flight batch lets go."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import orjson

from service.clock import utcnow
from service.inputs.binding import FieldBinder
from service.inputs.tensor_layout import TensorInput
from service.runtimes.base import AnswerShape, Model, tensor_inputs
from service.serving.descriptor import ModelDescriptor

log = logging.getLogger(__name__)


@dataclass
class ServingStats:
    """Lightbend's ModelToServeStats, per batch: ``usage`` counts records, ``duration`` is
    the cumulative scoring time; min/max/avg are per record (a batch's time over its size)."""

    since: datetime
    usage: int = 0
    duration_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    # The model call alone, per row, smoothed over recent calls (the engine runs a call it
    # expects to be short on the event loop rather than in a thread).
    call_ms_per_row: float | None = None

    def record_call(self, elapsed_ms: float, size: int) -> None:
        per_row = elapsed_ms / max(size, 1)
        last = self.call_ms_per_row
        self.call_ms_per_row = per_row if last is None else 0.8 * last + 0.2 * per_row

    def record_batch(self, size: int, elapsed_ms: float) -> None:
        if size <= 0:
            return
        per_record = elapsed_ms / size
        self.usage += size
        self.duration_ms += elapsed_ms
        self.min_ms = per_record if self.min_ms is None else min(self.min_ms, per_record)
        self.max_ms = per_record if self.max_ms is None else max(self.max_ms, per_record)

    @property
    def avg_ms(self) -> float:
        return self.duration_ms / self.usage if self.usage else 0.0


class ServingModel:
    """A loaded model in (or leaving) service. Batches hold it while they score; a displaced
    model is closed when its last in-flight batch lets go."""

    def __init__(
        self,
        descriptor: ModelDescriptor,
        model: Model,
        sha256: str,
        shape: AnswerShape | None = None,
        on_close: Callable[[str, int], None] | None = None,
    ) -> None:
        assert descriptor.version is not None
        self._on_close = on_close  # told (name, version) once the model is closed
        self.descriptor = descriptor
        self.name = descriptor.name
        self.version: int = descriptor.version
        self.model = model
        self.sha256 = sha256
        self.binder = FieldBinder(model.input_schema.names, descriptor.field_map)
        self.stats = ServingStats(since=utcnow())
        self.label = f"{self.name}:{self.version}"
        self.runtime = str(model.runtime)
        self.shape = shape  # what it answers, from its warm-up (None: not known)
        # The Answerer side (routing/routes.py): how a prediction names the model.
        self.model_json = orjson.dumps({"name": self.name, "version": self.version})
        self.headers: tuple[tuple[str, bytes], ...] = (
            ("model-name", self.name.encode()),
            ("model-version", str(self.version).encode()),
        )
        self._in_flight = 0
        self._displaced = False

    @cached_property
    def tensor_inputs(self) -> tuple[TensorInput, ...]:
        """How tensor clients send its inputs (runtimes/base.tensor_inputs), worked out once."""
        return tensor_inputs(self.model)

    def acquire(self) -> None:
        self._in_flight += 1

    def release(self) -> None:
        self._in_flight -= 1
        if self._displaced and self._in_flight == 0:
            self._close()

    def displace(self) -> None:
        self._displaced = True
        if self._in_flight == 0:
            self._close()

    def _close(self) -> None:
        try:
            self.model.close()
        except Exception:  # closing must never take the service down
            log.exception("closing model %s failed", self.label)
        if self._on_close is not None:
            self._on_close(self.name, self.version)
