from service.errors import InvalidRecordError, ModelUnavailableError, NoModelError
from service.scoring.outcome import Outcome
from service.scoring.records import LocalRecord
from service.scoring.wait_for_model import Hold, hold_back


def outcome(partition: int, offset: int, waits_for: str | None = None, ok: bool = True) -> Outcome:
    record = LocalRecord(b"{}", topic="data", partition=partition, offset=offset)
    if waits_for is not None:
        return Outcome(record, error=NoModelError("none", waits_for))
    if not ok:
        return Outcome(record, error=InvalidRecordError("bad"))
    return Outcome(record, result_json=b'{"value":1.0}')


def test_nothing_held_without_no_model_errors() -> None:
    batch = [outcome(0, 1), outcome(0, 2, ok=False), outcome(1, 5)]
    kept, holds, _ = hold_back(batch)
    assert kept == batch and holds == {}


def test_a_partition_stops_at_its_first_record_without_a_model() -> None:
    batch = [
        outcome(0, 10),
        outcome(0, 11, "beer"),
        outcome(0, 12),
        outcome(0, 13, "cider"),
        outcome(1, 20),
        outcome(1, 21, ok=False),
    ]
    kept, holds, _ = hold_back(batch)
    assert holds == {("data", 0): Hold(11, "beer")}
    assert [(o.record.partition, o.record.offset) for o in kept] == [(0, 10), (1, 20), (1, 21)]


def test_dead_letters_for_other_reasons_still_go_out() -> None:
    kept, holds, _ = hold_back([outcome(2, 1, ok=False), outcome(2, 2, "beer")])
    assert [o.record.offset for o in kept] == [1] and holds[("data", 2)].offset == 2


def unavailable(partition: int, offset: int, retry_after_s: float = 2.0) -> Outcome:
    record = LocalRecord(b"{}", topic="data", partition=partition, offset=offset)
    return Outcome(record, error=ModelUnavailableError("no answer", retry_after_s, "wine"))


def test_records_whose_model_does_not_answer_hold_their_partition_whatever_the_policy() -> None:
    batch = [outcome(0, 10), unavailable(0, 11), outcome(0, 12), outcome(1, 20)]
    kept, holds, _ = hold_back(batch, hold_no_model=False)
    assert holds == {("data", 0): Hold(11, "wine", 2.0)}
    assert [(o.record.partition, o.record.offset) for o in kept] == [(0, 10), (1, 20)]
    # Without the wait policy a record without a model is still a dead letter.
    kept, holds, _ = hold_back([outcome(3, 1, "beer")], hold_no_model=False)
    assert holds == {} and kept[0].error is not None


def test_after_the_give_up_bound_they_are_dead_letters_that_say_so() -> None:
    batch = [unavailable(0, 11), unavailable(0, 12), outcome(1, 20)]
    kept, holds, unanswered = hold_back(batch, gave_up=lambda partition: 30.0)
    assert holds == {}
    reasons = [(o.record.offset, o.error.reason if o.error else None) for o in kept]
    assert reasons == [(11, "model-unavailable"), (12, "model-unavailable"), (20, None)]
    assert "gave up after waiting 30 s (MODELSERVE_REMOTE_GIVE_UP_S)" in str(kept[0].error)
    assert unanswered == {("data", 0)}  # still waiting for its server, as far as the bound goes
