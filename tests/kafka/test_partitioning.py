"""The vectorised partitioner agrees with the client library's (and so the Java client's)."""

import numpy as np
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from service.kafka.partitioning import murmur2 as murmur2_batch
from service.kafka.partitioning import partitions_for_keys


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=50))
def test_murmur2_matches_the_reference(keys: list[bytes]) -> None:
    assert murmur2_batch(keys).tolist() == [murmur2(k) for k in keys]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.binary(max_size=30), max_size=40), st.integers(1, 64))
def test_partitions_match_the_default_partitioner(keys: list[bytes | None], count: int) -> None:
    every = list(range(count))
    expected = [DefaultPartitioner()(k, every, every) if k is not None else 7 for k in keys]
    assert partitions_for_keys(keys, count, keyless=7) == expected


def test_known_java_values() -> None:
    # Values from the Java client's test suite (org.apache.kafka.common.utils.UtilsTest).
    assert np.int32(murmur2_batch([b"21"])[0]) == -973932308
    assert np.int32(murmur2_batch([b"foobar"])[0]) == -790332482
    assert np.int32(murmur2_batch([b"a-little-bit-long-string"])[0]) == -985981536
    assert np.int32(murmur2_batch([b"a-little-bit-longer-string"])[0]) == -1486304829
    assert (
        np.int32(murmur2_batch([b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"])[0])
        == -58897971
    )
