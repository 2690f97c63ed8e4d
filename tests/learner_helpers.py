"""What the learner's end-to-end tests share: a synthetic labelled stream whose rule can flip
(concept drift), feedback records, and the learner's versions read off the control topic."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.learning.learner import LearnerOptions
from service.settings import Settings
from tests.kafka_helpers import read_until

INPUTS = ("x0", "x1", "x2")
DATA_TYPE = "synth"


def stream(count: int, seed: int, flip_at: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Features ~ N(0, 1); label "a" when x0 + x1 > 0, else "b" — the other way round from
    ``flip_at`` on."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(count, len(INPUTS)))
    positive = features[:, 0] + features[:, 1] > 0
    if flip_at is not None:
        positive[flip_at:] = ~positive[flip_at:]
    return features, ["a" if p else "b" for p in positive]


def feedback(
    features: np.ndarray, labels: list[str], prefix: str = "f", with_features: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, (row, label) in enumerate(zip(features, labels, strict=True)):
        doc: dict[str, Any] = {"id": f"{prefix}{i}", "label": label, "dataType": DATA_TYPE}
        if with_features:
            doc.update(zip(INPUTS, map(float, row), strict=True))
        out.append((f"{prefix}{i}", doc))
    return out


def data_records(features: np.ndarray, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            f"{prefix}{i}",
            {
                "id": f"{prefix}{i}",
                "dataType": DATA_TYPE,
                **dict(zip(INPUTS, map(float, row), strict=True)),
            },
        )
        for i, row in enumerate(features)
    ]


async def one_partition(bootstrap: str, topic: str) -> None:
    """A topic of one partition: its records are read in the order they were written."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


def answered(labels: list[str], prefix: str = "f", version: int = 1) -> list[dict[str, Any]]:
    """The serving model ``offline``'s predictions, one per label, ids ``<prefix><i>``."""
    return [
        {
            "id": f"{prefix}{i}",
            "dataType": "synth",
            "model": {"name": "offline", "version": version},
            "result": {"label": label},
        }
        for i, label in enumerate(labels)
    ]


def options(**overrides: Any) -> LearnerOptions:
    values: dict[str, Any] = {
        "name": "online",
        "data_type": DATA_TYPE,
        "algorithm": "pa-classifier",
        "inputs": INPUTS,
        "labels": ("a", "b"),
        "publish_every": 500,
        "publish_interval_s": 1.0,
        "window": 500,
    }
    values.update(overrides)
    return LearnerOptions(**values)


async def versions(
    settings: Settings, name: str, done: Any, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """The descriptors of ``name`` on the control topic, read until ``done(descriptors)``."""

    def of(records: list[Any]) -> list[dict[str, Any]]:
        return [
            orjson.loads(r.value) for r in records if r.key == name.encode() and r.value is not None
        ]

    records = await read_until(
        settings.bootstrap_servers, settings.control_topic, lambda r: done(of(r)), timeout_s
    )
    return of(records)
