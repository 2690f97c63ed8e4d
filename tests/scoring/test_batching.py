from service.scoring.batching import BatchPolicy

policy = BatchPolicy(max_batch_size=100, max_batch_delay_ms=10)


def test_stops_when_full() -> None:
    assert not policy.keep_collecting(collected=100, elapsed_ms=0, last_fetch=50)
    assert policy.room(100) == 0 and policy.room(30) == 70 and policy.room(150) == 0


def test_stops_when_the_delay_budget_is_spent() -> None:
    assert not policy.keep_collecting(collected=5, elapsed_ms=10, last_fetch=5)


def test_never_waits_for_records_that_are_not_there() -> None:
    # Light load: the last fetch found nothing more, so the batch goes now.
    assert not policy.keep_collecting(collected=1, elapsed_ms=0.1, last_fetch=0)


def test_keeps_collecting_while_records_keep_coming_within_budget() -> None:
    assert policy.keep_collecting(collected=40, elapsed_ms=2, last_fetch=40)


def test_zero_delay_means_one_fetch_per_batch() -> None:
    eager = BatchPolicy(max_batch_size=100, max_batch_delay_ms=0)
    assert not eager.keep_collecting(collected=1, elapsed_ms=0, last_fetch=1)
