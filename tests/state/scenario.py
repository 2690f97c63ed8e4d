"""A registry in every state the documents show: a route of each mode with traffic through it
(a shadow that agrees in part, a canary, an ensemble, a speculative race), a model alone, one
standing by, one retired, one that failed, a name refused before it had a version, and a
model with a description, metadata and an expiry; with the counters the traffic left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from service.control.loader import warm_up
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor
from tests.routing.stubs import Scaled, Threshold, declare, install, records

DATA_TYPES = ("shadow", "canary", "ensemble", "speculative", "alone", "scaled")


async def busy_registry() -> tuple[Registry, Metrics]:
    registry, metrics = Registry(), Metrics()
    install(registry, "primary", Threshold(classes=("a", "b")), "shadow")
    install(registry, "watcher", Threshold(classes=("a", "b", "c")), "shadow")
    declare(registry, "shadow", mode="shadow", primary="primary", shadows=["watcher"])
    install(registry, "old", Threshold(), "canary")
    install(registry, "new", Threshold(1), "canary")
    declare(registry, "canary", mode="canary", weights={"old": 3, "new": 1})
    install(registry, "left", Threshold(), "ensemble")
    install(registry, "right", Threshold(2), "ensemble")
    declare(registry, "ensemble", mode="ensemble", members=["left", "right"], combine="mean")
    install(registry, "slow", Threshold(0, confidence=0.6), "speculative")
    install(registry, "fast", Threshold(1, confidence=0.9), "speculative")
    declare(
        registry, "speculative", mode="speculative", candidates=["fast", "slow"], deadlineMs=5000
    )
    install(registry, "standing", Threshold(), "alone")
    install(registry, "solo", Threshold(), "alone", version=3)  # the latest answers
    install(registry, "doubled", Scaled(2.0), "scaled")
    install(registry, "gone", Threshold(), "gone")
    registry.retire("gone")
    registry.fail("broken", "failed", "it would not load", version=7)
    registry.fail("nameless", "rejected", "no dataType")
    described = ModelDescriptor.model_validate(
        {
            "name": "described",
            "version": 2,
            "dataType": "described",
            "modelType": "ONNX",
            "data": "AA==",
            "description": "a model with everything said",
            "metadata": {"owner": "team", "auc": 0.91, "tags": ["x", 1, None]},
            "expiresAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        }
    )
    model = Threshold()
    registry.install(described, model, "1" * 64, warm_up(model))
    engine = Engine(registry, metrics, None)
    metrics.record_consumed("in", 60)
    for data_type in DATA_TYPES:
        for size in (5, 3, 8):
            scored = await engine.score_stream(records(*range(size), data_type=data_type))
            await asyncio.gather(*scored.sides)
    await engine.score(records(-1, data_type="scaled"))  # a failed batch
    metrics.record_dead_letter("no-model")
    metrics.record_dead_letter("invalid-record")
    metrics.record_dead_letter("no-model")
    return registry, metrics
