"""A PYTHON model's calls: on one thread of its own, never the event loop; a handler that
raises, hangs or answers the wrong number of results fails its batch (and, through the engine,
each row's dead letter says why); a row answered in a wrong shape is that row's problem; the
handler is closed with its model."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.errors import ModelLoadError, ScoringError
from service.metrics import Metrics
from service.routing.registry import Registry
from service.runtimes.answers import publishable_results
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.checks import row_problems
from service.runtimes.handler_thread import HandlerError, HandlerStuckError, HandlerTimeoutError
from service.runtimes.python_answers import batch_result
from service.runtimes.python_handler import PythonModel, load
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor
from tests.runtimes.handlers.misbehaving import GOOD, MALFORMED
from tests.runtimes.python_handler_helpers import HANDLERS, numbers_batch, request
from tests.strategies import json_values


def loaded(handler: str, **kw: Any) -> PythonModel:
    return load(request(f"{HANDLERS}.misbehaving:{handler}", inputs=["a", "b"], **kw))


async def engine_rows(model: PythonModel, rows: list[list[float]]) -> list[bytes | Any]:
    """The rows scored through the engine, as the service scores a batch."""
    registry = Registry()
    descriptor = ModelDescriptor.model_validate(
        {"name": "py", "version": 1, "dataType": "d", "modelType": "PYTHON", "handler": "x:y"}
    )
    serving = registry.install(descriptor, model, "0" * 64)
    scores = await Engine(registry, Metrics(), None).score_batch(serving, numbers_batch(rows), "d")
    return list(scores.rows)


async def test_calls_run_on_one_thread_of_the_model_never_on_the_loop() -> None:
    seen: dict[str, Any] = {}
    closed = threading.Event()
    model = loaded("recorder", metadata={"seen": seen, "closed": closed})
    for _ in range(6):  # fast calls: any other model would be called on the loop by now
        rows = await engine_rows(model, [[1.0, 2.0], [3.0, 4.5]])
        assert [orjson.loads(r) for r in rows] == [{"value": 3.0}, {"value": 7.5}]
    threads = set(seen["threads"])
    assert len(threads) == 1 and threading.get_ident() not in threads
    model.close()
    assert closed.wait(10)


def test_a_model_never_called_is_closed_on_its_handlers_thread() -> None:
    """Its factory ran on that thread; its close() follows there (close never waits)."""
    closed = threading.Event()
    loaded("recorder", metadata={"closed": closed}).close()
    assert closed.wait(10)


async def test_a_handler_that_raises_fails_each_row_with_its_error() -> None:
    model = loaded("raises")
    with pytest.raises(ValueError, match="no wine today"):
        model.predict(numbers_batch([[1.0, 2.0]]))
    rows = await engine_rows(model, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for row in rows:  # the batch failed, then each row alone
        assert isinstance(row, ScoringError) and row.reason == "scoring-error"
        assert str(row) == "ValueError: no wine today"
    model.close()


@pytest.mark.parametrize(
    ("handler", "why"),
    [("wrong_length", "answered 4 results for 3 rows"), ("not_a_list", "not a list of one")],
)
def test_an_answer_that_is_not_one_result_per_row_fails_the_batch(handler: str, why: str) -> None:
    model = loaded(handler)
    with pytest.raises(HandlerError, match=why):
        model.predict(numbers_batch([[1.0, 2.0]] * 3))
    model.close()


def test_a_row_answered_in_a_wrong_shape_is_that_rows_problem() -> None:
    model = loaded("malformed")
    n = len(MALFORMED)
    result = model.predict(numbers_batch([[float(i), 0.0] for i in range(n)]))
    assert result.kind == "classifier" and list(result.classes or ()) == ["a", "b"]
    good = {i for i, a in enumerate(MALFORMED) if a is None}
    assert set(result.answer_problems) == set(range(n)) - good
    rows = publishable_results(result, model.runtime)
    for i, row in enumerate(rows):
        if i in good:
            assert isinstance(row, bytes) and orjson.loads(row) == GOOD
        else:
            assert isinstance(row, ScoringError)
    reasons = [str(rows[i]) for i in range(n)]
    assert "keys {'label', 'score'}" in reasons[1]
    assert "label <list of 1 items>, which is not text or a number" in reasons[2]
    assert "probability 'high', which is not a number" in reasons[3]
    assert "probabilities that are <list of 2 items>" in reasons[4]
    assert "answered 'a', not a result object" in reasons[5]
    assert "value True, which is not a number" in reasons[7]
    assert "outputs whose names are not all text" in reasons[8]
    assert all(reasons[i].startswith("python ") for i in range(n) if i not in good), reasons[1]
    model.close()


@pytest.mark.parametrize(
    ("answers", "kind", "problems"),
    [
        # Probabilities that the checks refuse, and a label outside its classes.
        ([{"label": "a", "probabilities": {"a": 0.5, "b": 0.6}}], "classifier", {0}),
        ([{"label": "c", "probabilities": {"a": 0.5, "b": 0.5}}], "classifier", {0}),
        ([{"value": float("nan")}, {"value": 2}], "regressor", {0}),
        # Two class sets: outputs, and each classifier row still checked.
        (
            [
                {"label": "a", "probabilities": {"a": 1.0}},
                {"label": "b", "probabilities": {"b": 2.0}},
            ],
            "outputs",
            {1},
        ),
        ([{"label": 6.0}, {"value": 1}, {"outputs": {"x": [1, None]}}], "outputs", {2}),
    ],
)
def test_answers_are_checked_as_every_runtimes(
    answers: list[Any], kind: str, problems: set[int]
) -> None:
    result = batch_result(answers, len(answers))
    assert result.kind == kind
    assert set(row_problems(result)) == problems


@given(st.lists(json_values(), min_size=1, max_size=8))
def test_any_answers_make_a_batch_result_or_row_problems(answers: list[Any]) -> None:
    result = batch_result(answers, len(answers))
    assert isinstance(result, BatchResult) and result.size == len(answers)
    rows = publishable_results(result, RuntimeInfo("python", "test"))
    assert len(rows) == len(answers)


async def test_a_hung_handler_times_out_and_fails_fast_until_it_returns() -> None:
    release = threading.Event()
    model = loaded("hangs", metadata={"release": release}, timeout_s=0.2)
    try:
        batch = numbers_batch([[1.0, 2.0]])
        with pytest.raises(HandlerTimeoutError, match=r"did not return within 0\.2 s"):
            model.predict(batch)
        with pytest.raises(HandlerStuckError):
            model.predict(batch)
        # Through the engine: the batch fails and each row alone fails fast, saying why.
        rows = await engine_rows(model, [[1.0, 2.0], [3.0, 4.0]])
        for row in rows:
            assert isinstance(row, ScoringError)
            assert "HandlerStuckError" in str(row) and "timed out" in str(row)
    finally:
        release.set()
    # Once the stuck call returns, the handler takes calls again.
    for _ in range(200):
        try:
            result = model.predict(numbers_batch([[1.0, 2.0]]))
        except HandlerStuckError:
            threading.Event().wait(0.05)
            continue
        assert result.rows() == [{"value": 1.0}]
        break
    else:
        pytest.fail("the handler never came back")
    model.close()


def test_a_factory_that_hangs_fails_its_load_within_the_time_out() -> None:
    """The factory runs on the handler's thread, bounded: a hang fails this version's load,
    never the control plane that awaits it."""
    release = threading.Event()
    try:
        with pytest.raises(ModelLoadError, match=r"did not return within 0\.2 s"):
            loaded("hangs_at_load", metadata={"release": release}, timeout_s=0.2)
    finally:
        release.set()  # the stuck factory's thread ends
