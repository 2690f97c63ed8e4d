"""Kafka's default partitioner (murmur2 of the key, as the Java client computes it) for a
whole batch of keys at once with numpy: the per-record pure-Python hash of the client library
costs more than scoring a record with a small model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_SEED = np.uint32(0x9747B28C)
_M = np.uint32(0x5BD1E995)
U32 = npt.NDArray[np.uint32]


def murmur2(keys: Sequence[bytes]) -> U32:
    """murmur2 of every key (all the same length or not), as unsigned 32-bit integers."""
    hashes = np.empty(len(keys), dtype=np.uint32)
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        by_length[len(key)].append(i)
    for length, indices in by_length.items():
        raw = b"".join(keys[i] for i in indices)
        data = np.frombuffer(raw, dtype=np.uint8).reshape(len(indices), length)
        hashes[indices] = _murmur2_same_length(data, length)
    return hashes


def _murmur2_same_length(data: npt.NDArray[np.uint8], length: int) -> U32:
    # numpy's uint32 arithmetic wraps modulo 2**32, which is the Java int arithmetic of the
    # reference implementation once read as unsigned.
    with np.errstate(over="ignore"):
        h = np.full(data.shape[0], _SEED ^ np.uint32(length), dtype=np.uint32)
        words = length // 4
        if words:
            k_all = data[:, : words * 4].copy().view("<u4")
            for w in range(words):
                k = k_all[:, w] * _M
                k ^= k >> np.uint32(24)
                k *= _M
                h *= _M
                h ^= k
        tail = length % 4
        base = words * 4
        if tail >= 3:
            h ^= data[:, base + 2].astype(np.uint32) << np.uint32(16)
        if tail >= 2:
            h ^= data[:, base + 1].astype(np.uint32) << np.uint32(8)
        if tail >= 1:
            h ^= data[:, base].astype(np.uint32)
            h *= _M
        h ^= h >> np.uint32(13)
        h *= _M
        h ^= h >> np.uint32(15)
    return h


def partitions_for_keys(keys: Sequence[bytes | None], partitions: int, keyless: int) -> list[int]:
    """The partition of each record: murmur2(key) & 0x7fffffff mod the partition count, as the
    Java client and aiokafka choose; records without a key all go to ``keyless``."""
    keyed = [i for i, k in enumerate(keys) if k is not None]
    result = [keyless] * len(keys)
    if keyed:
        hashes = murmur2([keys[i] for i in keyed])  # type: ignore[misc]
        chosen = ((hashes & np.uint32(0x7FFFFFFF)) % np.uint32(partitions)).tolist()
        for i, p in zip(keyed, chosen, strict=True):
            result[i] = p
    return result
