"""Properties of ``build_batch`` (service/inputs/conversion.py) over arbitrary schemas and
arbitrary JSON rows: it never raises, it partitions the rows into good ones and refused ones
with errors that name a field, its columns have the types the rules say, a batch converts as
its rows would alone, and ``TypedBatch.take``/``matrix()`` agree with the columns.

Cases that reach a known bug are set aside (``KNOWN_BUGS``, each with an xfail repro in
test_binding_and_batches.py, and a pinned case in ``KNOWN_BUG_CASES``): once a bug is fixed,
drop its name from ``KNOWN_BUGS``, and the properties cover it again, its pinned cases on
every run."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from service.errors import InvalidRecordError, RecordError
from service.inputs.conversion import build_batch
from service.inputs.schema import TypedBatch
from tests.inputs.property_cases import NAMES, ONE_SIZE_PER_BATCH, PROPERTY_SETTINGS, Case, cases
from tests.inputs.property_checks import (
    check_column,
    named_field,
    same_column,
    same_value,
    set_aside_known_bugs,
    with_known_bug_cases,
)

# -- (a) build_batch never raises, partitions the rows and types the columns -------------------


@PROPERTY_SETTINGS
@given(cases())
@with_known_bug_cases
def test_build_batch_partitions_the_rows_and_types_the_columns(case: Case) -> None:
    set_aside_known_bugs(case)
    batch, good, errors = build_batch(case.rows, case.binder(), case.schema)
    assert good == sorted(good)
    assert set(good).isdisjoint(errors)
    assert sorted([*good, *errors]) == list(range(len(case.rows)))
    for i, error in errors.items():
        assert isinstance(error, InvalidRecordError) and isinstance(error, RecordError)
        field, _ = named_field(str(error))
        assert field in case.schema.names or field in case.rows[i], str(error)
    assert batch.size == len(good)
    assert batch.schema == case.schema
    assert set(batch.columns) == set(case.schema.names)
    for spec in case.schema.inputs:
        check_column(spec, batch.columns[spec.name], len(good))


# -- (b) a batch converts as its rows would alone ---------------------------------------------


@PROPERTY_SETTINGS
@given(cases())
@with_known_bug_cases
def test_a_batch_converts_as_its_rows_alone(case: Case) -> None:
    set_aside_known_bugs(case)
    batch, good, errors = build_batch(case.rows, case.binder(), case.schema)
    position = {i: k for k, i in enumerate(good)}
    for i, row in enumerate(case.rows):
        alone, alone_good, alone_errors = build_batch([row], case.binder(), case.schema)
        if i in errors and ONE_SIZE_PER_BATCH in str(errors[i]):
            continue
        if not alone_good:
            assert i in errors, f"row {i} refused alone ({alone_errors[0]}), taken in the batch"
            named_in_batch, said_in_batch = named_field(str(errors[i]))
            named_alone, said_alone = named_field(str(alone_errors[0]))
            assert said_in_batch == said_alone
            assert named_in_batch in (named_alone, *case.schema.names)
            continue
        assert i in position, f"row {i} taken alone, refused in the batch ({errors[i]})"
        for name in case.schema.names:
            in_batch, by_itself = batch.columns[name], alone.columns[name]
            assert in_batch.dtype == by_itself.dtype
            assert same_value(in_batch[position[i]], by_itself[0]), name


# -- (c) take and matrix() agree with the columns ---------------------------------------------


def check_matrix(batch: TypedBatch) -> None:
    scalars = [s.name for s in batch.schema.inputs if not s.shape and s.type != "string"]
    for names in (scalars, scalars[::-1], scalars[:1]):
        matrix = batch.matrix(names)
        assert matrix.dtype == np.float64 and matrix.shape == (batch.size, len(names))
        for j, name in enumerate(names):
            assert same_column(matrix[:, j], batch.columns[name])
    if batch.schema.all_numeric_scalars:
        assert same_column(batch.matrix(), batch.matrix(batch.schema.names))
    for spec in batch.schema.inputs:
        values = batch.values(spec.name)
        assert len(values) == batch.size
        if not spec.shape:
            column = batch.columns[spec.name]
            for value, cell in zip(values, column.tolist(), strict=True):
                assert value == (None if cell is None or cell != cell else cell)


def check_take(batch: TypedBatch, index: list[int]) -> None:
    taken = batch.take(index)
    assert taken.size == len(index) and taken.schema == batch.schema
    for name, column in batch.columns.items():
        assert same_column(taken.columns[name], column[np.asarray(index, dtype=np.intp)])
        for j, i in enumerate(index):
            assert same_value(taken.columns[name][j], column[i])
    if batch.schema.all_numeric_scalars:
        assert same_column(taken.matrix(), batch.matrix()[np.asarray(index, dtype=np.intp)])
    check_matrix(taken)


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_take_and_matrix_agree_with_the_columns(case: Case, data: st.DataObject) -> None:
    set_aside_known_bugs(case)
    batch, _, _ = build_batch(case.rows, case.binder(), case.schema)
    check_matrix(batch)
    rows = st.lists(st.integers(0, batch.size - 1), max_size=8) if batch.size else st.just([])
    check_take(batch, data.draw(rows))


@PROPERTY_SETTINGS
@given(
    st.lists(st.sampled_from(sorted(NAMES)), min_size=1, max_size=4, unique=True),
    st.integers(0, 5),
    st.data(),
)
def test_take_and_matrix_agree_for_a_batch_of_a_matrix(
    names: list[str], size: int, data: st.DataObject
) -> None:
    cells = st.floats(allow_infinity=False) | st.integers(-3, 3).map(float)
    grid = data.draw(st.lists(cells, min_size=size * len(names), max_size=size * len(names)))
    batch = TypedBatch.of_matrix(names, np.array(grid, dtype=np.float64))
    assert batch.size == size and batch.schema.names == names
    assert batch.matrix().shape == (size, len(names))
    rows = st.lists(st.integers(0, size - 1), max_size=8) if size else st.just([])
    check_take(batch, data.draw(rows))
