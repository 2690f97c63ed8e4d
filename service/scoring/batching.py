"""The micro-batching policy, as pure code.

Smart batching (Hazelcast Jet's term): a batch takes what is already waiting, up to
``max_batch_size``, and never waits for more records that are not there yet. Under light load
a record is scored as soon as it arrives (batches of one or a few); under heavy load records
pile up while the previous batch scores, so batches grow toward the cap by themselves. The
``max_batch_delay_ms`` budget bounds how long one batch may keep collecting while records
keep trickling in, so no record waits longer than that for its batch to close."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchPolicy:
    max_batch_size: int
    max_batch_delay_ms: int

    def room(self, collected: int) -> int:
        """How many more records the batch takes."""
        return max(0, self.max_batch_size - collected)

    def keep_collecting(self, collected: int, elapsed_ms: float, last_fetch: int) -> bool:
        """Whether to fetch again (without waiting) before scoring.

        ``collected``: records in the batch so far; ``elapsed_ms``: since the batch's first
        record arrived; ``last_fetch``: how many records the last fetch brought."""
        if collected >= self.max_batch_size:
            return False
        if elapsed_ms >= self.max_batch_delay_ms:
            return False
        # Nothing more was waiting: waiting for more would only add latency.
        return last_fetch > 0
