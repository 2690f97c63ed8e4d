"""A member whose batch fails is scored row by row (one poisonous record costs only itself),
and its answers still reach the route as columns: an ensemble combines them, with no JSON
read back (the engine puts the single-row answers together)."""

from __future__ import annotations

from service.metrics import Metrics
from service.routing.columns import columns_of
from service.routing.registry import Registry
from service.scoring.engine import Engine
from tests.routing.stubs import Scaled, declare, install, records


async def test_rows_scored_one_by_one_keep_their_columns() -> None:
    registry = Registry()
    serving = install(registry, "a", Scaled(2))
    scores = await Engine(registry, Metrics(), None).run(
        serving, [{"x": 1.0}, {"x": -1.0}, {"x": 3.0}], "d"
    )
    assert [isinstance(row, bytes) for row in scores.rows] == [True, False, True]
    assert scores.result is not None and list(scores.scored or []) == [0, 2]
    columns = columns_of(scores)
    assert columns.ok.tolist() == [True, False, True]
    assert columns.values is not None and columns.values[[0, 2]].tolist() == [2.0, 6.0]


async def test_an_ensemble_over_a_member_isolated_row_by_row() -> None:
    registry = Registry()
    install(registry, "a", Scaled(1))
    install(registry, "b", Scaled(3))
    declare(registry, mode="ensemble", members=["a", "b"], combine="mean")
    outcomes = await Engine(registry, Metrics(), None).score(records(1.0, -2.0, 4.0))
    assert [o.result for o in outcomes] == [{"value": 2.0}, None, {"value": 8.0}]
    failed = outcomes[1]
    assert failed.error is not None and failed.error.reason == "scoring-error"
    assert "negative" in str(failed.error)


async def test_a_model_of_other_outputs_isolated_row_by_row_still_answers() -> None:
    """A model answering named outputs (neither classifier nor regressor): its rows scored
    one by one are published as they were before the columns were kept."""
    from service.inputs.schema import InputSchema, TypedBatch
    from service.runtimes.base import BatchResult, RuntimeInfo

    class Outputs:
        runtime = RuntimeInfo("outputs", "1")
        input_schema = InputSchema.numeric(["x"])

        def predict(self, batch: TypedBatch) -> BatchResult:
            x = batch.matrix()[:, 0]
            if (x < 0).any():
                raise ValueError("negative")
            return BatchResult("outputs", batch.size, outputs=[{"y": v} for v in x.tolist()])

        def close(self) -> None:
            pass

    registry = Registry()
    install(registry, "o", Outputs())
    outcomes = await Engine(registry, Metrics(), None).score(records(1.0, -2.0, 4.0))
    assert [o.result for o in outcomes] == [{"outputs": {"y": 1.0}}, None, {"outputs": {"y": 4.0}}]
