"""Reading what a topic holds now, to its end: the learner's restore (the control topic) and
its catch-up on the data and predictions there at start."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


async def read_to_end(
    consumer: Any,
    on_records: Callable[[list[Any]], None],
    *,
    idle_ms: int = 500,
    max_records: int = 10_000,
    deadline_s: float = 60.0,
) -> bool:
    """Hands every record of ``consumer``'s assignment, up to the end offsets there are now,
    to ``on_records`` (a batch at a time). True once there; False if ``deadline_s`` passes
    first (a partition that never reaches its end).

    An empty fetch is no sign of the end: aiokafka's getmany also comes back empty when a
    fetch takes longer than ``idle_ms``. Only where the broker cannot say its end offsets
    (some Kafka-compatible ones answer badly) does an empty fetch stand for the end."""
    try:
        ends = dict(await consumer.end_offsets(list(consumer.assignment())))
    except Exception as exc:
        log.warning("end offsets unknown (%s): reading until a fetch comes back empty", exc)
        ends = {}
    give_up = time.monotonic() + deadline_s
    while True:
        if ends and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
            return True
        if time.monotonic() >= give_up:
            return False
        batches = await consumer.getmany(timeout_ms=idle_ms, max_records=max_records)
        if not batches and not ends:
            return True
        for records in batches.values():
            on_records(records)
