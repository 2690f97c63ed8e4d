"""The single-model route, and the hash every route that splits or samples rows shares. Each
other mode is a Route of its own module (shadow, canary, ensemble, speculative); what a route
is, and what it exchanges with the engine, is serving/route.py.

The single-model route, the common case, costs what scoring without routes did: one model
call for the batch, its answers as they are."""

from __future__ import annotations

import hashlib

from service.serving.model import ServingModel
from service.serving.route import Answers, RouteBatch, Runner


class SingleRoute:
    """The dataType's latest model answers alone: today's behaviour, and the default."""

    mode = "single"

    def __init__(self, serving: ServingModel) -> None:
        self.data_type = serving.descriptor.data_type
        self._serving = self.primary = serving
        self.members: tuple[ServingModel, ...] = (serving,)

    async def answer(self, batch: RouteBatch, run: Runner) -> Answers:
        scores = await run(self._serving, batch.rows)
        return Answers([self._serving] * len(scores.rows), scores.rows)


def stable_fraction(key: bytes) -> float:
    """A number in [0, 1) that a key always maps to, in every process and every release (a
    fixed hash, not Python's salted one): the same key goes the same way on every replica and
    after every restart."""
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
