"""The cases the conversion properties run over: arbitrary schemas and JSON rows, the known
bugs a case may reach (``KNOWN_BUGS``, each with an xfail repro beside the rule tests), and the
checks the properties make."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from service.inputs.binding import FieldBinder
from service.inputs.schema import FLOATING_TYPES, InputSchema, InputSpec, InputType
from tests.strategies import tricky_text

# The known bugs a case may reach (a repro of each: test_binding_and_batches.py).
KNOWN_BUGS = frozenset(
    {
        # test_each_row_binds_its_own_exact_name_in_a_batch
        "first-layout-binding",
    }
)
# A row of a dynamic-size tensor may be refused in a batch for disagreeing with another row
# (by design; and, questionably, with a row that is itself refused:
# test_a_refused_row_does_not_fix_a_dynamic_size). Such rows are not compared with their
# conversion alone.
ONE_SIZE_PER_BATCH = "takes one size per batch"

# An error names the record field that fed the input, or the input itself (a missing input,
# or rows of the batch that feed it from fields of different names): so a row's error may
# name another field in a batch than alone.
NAMED = re.compile(r"feature (['\"])(.+?)\1")

MAX_EXACT_INTEGER = 2.0**53  # an integer input takes whole numbers below it

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

# -- strategies -------------------------------------------------------------------------------

# Input names, each with record fields that normalise to it.
NAMES: dict[str, tuple[str, ...]] = {
    "a": ("A",),
    "b_c": ("b-c", "B C", "bc"),
    "Age": ("age", "AGE"),
    "x1": ("X1", "x_1"),
    "t": ("T",),
}
EXTRA_KEYS = ("dataType", "id", "zz", "f_a")
TYPES: tuple[InputType, ...] = ("double", "float", "integer", "boolean", "string")
SHAPES: tuple[tuple[int, ...], ...] = ((), (), (), (2,), (2, 3), (-1,))


def big_ints(*bits: int) -> st.SearchStrategy[int]:
    """Integers of about so many bits, either sign (built by ``builds``: Hypothesis cannot
    print a strategy holding an int of over 4,300 digits)."""
    return st.builds(
        lambda b, sign, offset: sign * (2**b + offset),
        st.sampled_from(bits),
        st.sampled_from([1, -1]),
        st.integers(-1, 1),
    )


BIG_INTS = big_ints(64, 100)  # beyond 64 bits, within the float range
# Beyond the float range (1,100 bits), and beyond the 4,300 digits Python prints (17,000 bits).
HUGE_INTS = big_ints(1100, 17_000)
FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NUMBERS = st.one_of(st.integers(-(10**6), 10**6), FINITE_FLOATS, st.booleans(), BIG_INTS)
FINITE_TEXT = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    FINITE_FLOATS.map(repr),
    st.sampled_from([" 7 ", "1_000", "+.5", "-0", "1e5"]),
)
ODD_TEXT = st.sampled_from(
    ["1e400", "inf", "-Infinity", "nan", "0x10", "٣", "", " ", "true", "yes", "1,5"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    BIG_INTS,
    HUGE_INTS,
    FINITE_FLOATS,
    tricky_text,
    FINITE_TEXT,
    ODD_TEXT,
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=8,
)


def tensors(
    shape: tuple[int, ...], leaves: st.SearchStrategy[Any], dynamic: int | None = None
) -> st.SearchStrategy[Any]:
    """Nested lists of ``shape``; a dynamic dimension has ``dynamic`` items, else 0 to 2."""
    if not shape:
        return leaves
    head, rest = shape[0], shape[1:]
    if head >= 0:
        sizes: st.SearchStrategy[int] = st.just(head)
    else:
        sizes = st.just(dynamic) if dynamic is not None else st.integers(0, 2)
    return sizes.flatmap(lambda n: st.lists(tensors(rest, leaves, dynamic), min_size=n, max_size=n))


def good(spec: InputSpec, dynamic: int, nulls: bool) -> st.SearchStrategy[Any]:
    """Values the rules have the input take (a dynamic dimension of ``dynamic`` items; null,
    where the input takes it, when ``nulls``)."""
    null = [st.none()] if spec.nullable and nulls else []
    if spec.shape:
        whole = st.integers(-5, 5) | st.booleans()
        leaves = whole if spec.type == "integer" else whole | FINITE_FLOATS
        if spec.type in FLOATING_TYPES and min(spec.shape) > 0:
            return st.one_of(tensors(spec.shape, leaves, dynamic), *null)
        return tensors(spec.shape, leaves, dynamic)
    if spec.type == "string":
        return st.one_of(tricky_text, NUMBERS, *null)
    if spec.type == "boolean":
        return st.sampled_from([True, False, 0, 1, 1.0, 0.0, "true", "False"]) | st.one_of(*null)
    if spec.type == "integer":
        return st.one_of(
            st.integers(-(10**6), 10**6),
            st.integers(-5, 5).map(float),
            st.booleans(),
            st.integers(-(2**53), 2**53),
            st.integers(-99, 99).map(str),
            *null,
        )
    return st.one_of(NUMBERS, FINITE_TEXT, *null)


def near(spec: InputSpec) -> st.SearchStrategy[Any]:
    """Values of about the input's type that the rules may refuse."""
    if spec.shape:
        leaves = st.one_of(st.integers(-5, 5), FINITE_FLOATS, ODD_TEXT, FINITE_TEXT, HUGE_INTS)
        wrong = st.sampled_from([(1,), (3,), (2, 2), (3, 2)]).flatmap(lambda s: tensors(s, leaves))
        fractions = st.sampled_from([0.5, -2.25, 1e-300]) | FINITE_FLOATS
        numbers = tensors(spec.shape, st.integers(-5, 5) | fractions)  # fractions too
        return st.one_of(numbers, numbers, tensors(spec.shape, leaves), wrong, st.none(), NUMBERS)
    if spec.type == "string":
        return st.one_of(st.none(), HUGE_INTS, st.lists(tricky_text, max_size=2))
    if spec.type == "boolean":
        return st.sampled_from([2, -1, 0.5, "yes", None, "1.0"])
    if spec.type == "integer":
        beyond = st.sampled_from([2**53 + 2, -(2**53) - 2, 2.0**60])
        return st.one_of(FINITE_FLOATS, BIG_INTS, beyond, ODD_TEXT, HUGE_INTS, st.none())
    return st.one_of(
        FINITE_FLOATS, ODD_TEXT, HUGE_INTS, st.none(), st.lists(st.integers(), max_size=2)
    )


@dataclass(frozen=True, repr=False)
class Case:
    schema: InputSchema
    field_map: dict[str, str]
    rows: list[dict[str, Any]]

    def binder(self) -> FieldBinder:
        return FieldBinder(self.schema.names, self.field_map)

    def __repr__(self) -> str:
        # Printable whatever the rows hold: repr refuses an int of over 4,300 digits.
        return f"Case({self.schema!r}, {self.field_map!r}, {_printable(self.rows)})"


def _printable(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_printable, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_printable(v)}" for k, v in value.items()) + "}"
    if isinstance(value, int) and value.bit_length() > 1000:
        return f"{'-' if value < 0 else ''}(2**{value.bit_length() - 1} + ...)"
    return repr(value)


@st.composite
def schemas(draw: st.DrawFn) -> tuple[InputSchema, dict[str, str]]:
    """A mix of input types, nullable or not, some tensors; or scalar numbers only (a batch
    of them is one matrix); or tensors only. Some inputs fed by the fieldMap."""
    names = draw(st.lists(st.sampled_from(sorted(NAMES)), min_size=1, max_size=4, unique=True))
    mode = draw(st.sampled_from(["mixed", "mixed", "numbers", "tensors"]))
    types = TYPES if mode == "mixed" else TYPES[:-1]
    shapes = {"mixed": SHAPES, "numbers": ((),), "tensors": SHAPES[-3:]}[mode]
    specs: list[InputSpec] = []
    field_map: dict[str, str] = {}
    for name in names:
        kind = draw(st.sampled_from(types))
        shape = () if kind == "string" else draw(st.sampled_from(shapes))
        specs.append(InputSpec(name, kind, shape, nullable=draw(st.booleans())))
        if draw(st.integers(0, 4)) == 0:
            field_map[name] = f"f_{name}"
    return InputSchema(tuple(specs)), field_map


def keys_for(spec: InputSpec, field_map: dict[str, str]) -> list[str]:
    mapped = [field_map[spec.name]] if spec.name in field_map else []
    return [*mapped, spec.name, *NAMES[spec.name]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Rows of one key layout (the usual producer), or with some rows of other layouts (an
    input missing, fed by another field, or by two fields); values the inputs take, or with
    some values of about their type, or any JSON at all. A clean case takes the fast paths
    (a batch at a time), a dirty one the careful ones (a value at a time)."""
    schema, field_map = draw(schemas())
    layout = {spec.name: draw(st.sampled_from(keys_for(spec, field_map))) for spec in schema.inputs}
    dynamic = draw(st.integers(0, 2))  # the size of a dynamic dimension, for the good values
    nulls = draw(st.booleans())  # whether good values may be null (then not one matrix)
    dirty = draw(st.sampled_from([0, 0, 1, 3, 10]))  # in twenty, how often a value is not good
    shuffled = draw(st.sampled_from([0, 0, 2, 6]))  # in twenty, how often a row's keys vary
    rows: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 6))):
        pairs: list[tuple[str, Any]] = []
        for spec in schema.inputs:
            if draw(st.integers(0, 19)) < shuffled:  # none, another, or two fields
                other = draw(st.sampled_from(keys_for(spec, field_map)))
                both = [layout[spec.name], other]
                keys = draw(st.sampled_from([[], [other], both, both, both, both]))
            else:
                keys = [layout[spec.name]]
            for key in keys:
                if draw(st.integers(0, 19)) >= dirty:
                    value = draw(good(spec, dynamic, nulls))
                else:
                    value = draw(st.one_of(near(spec), near(spec), JSON_VALUES))
                pairs.append((key, value))
        extras = draw(st.lists(st.tuples(st.sampled_from(EXTRA_KEYS), JSON_VALUES), max_size=2))
        rows.append(dict(draw(st.permutations(pairs + extras))))
    return Case(schema, field_map, rows)
