"""Property-based: whatever arrives on the control or data topic, the decoders answer with a
value or a clean rejection — never another exception."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.control.descriptor import ControlLimits, parse_descriptor
from service.control.lifecycle import ModelLifecycle
from service.control.loader import Loader
from service.errors import DescriptorRejectedError, RecordError
from service.inputs.binding import FieldBinder
from service.inputs.conversion import build_batch
from service.inputs.schema import INPUT_TYPES, InputSchema, InputSpec
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.records import LocalRecord, decode_record
from service.serving.events import ModelEvent
from service.settings import Settings

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "name",
    "version",
    "description",
    "dataType",
    "modelType",
    "data",
    "location",
    "sha256",
    "inputs",
    "fieldMap",
    "labels",
    "expiresAt",
    "signature",
    "metadata",
    "rollback",
]
descriptor_like = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=10
)
hypothesis_settings = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@hypothesis_settings
@given(key=st.none() | st.binary(max_size=20), value=st.binary(max_size=200))
def test_descriptor_decoder_on_arbitrary_bytes(key: bytes | None, value: bytes) -> None:
    try:
        parse_descriptor(key, value)
    except DescriptorRejectedError as exc:
        message = str(exc)
    else:
        return
    assert len(message) <= 512


@hypothesis_settings
@given(doc=descriptor_like)
def test_descriptor_decoder_on_arbitrary_json_objects(doc: dict[str, Any]) -> None:
    try:
        parse_descriptor(None, orjson.dumps(doc))
    except DescriptorRejectedError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message and len(message) <= 512


@hypothesis_settings
@given(
    value=st.none() | st.binary(max_size=200) | json_values.map(orjson.dumps),
    headers=st.lists(
        st.tuples(st.sampled_from(["data-type", "x"]), st.binary(max_size=10)), max_size=3
    ),
)
def test_record_decoder(value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
    try:
        decoded = decode_record(LocalRecord(value, headers=tuple(headers)), None)
    except RecordError:
        return
    assert isinstance(decoded.fields, dict) and decoded.data_type


@hypothesis_settings
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "A", "c d"]), json_values, max_size=4),
        max_size=8,
    )
)
def test_features_never_raise_and_account_for_every_row(rows: list[dict[str, Any]]) -> None:
    batch, good, errors = build_batch(
        rows, FieldBinder(["a", "b"], None), InputSchema.numeric(["a", "b"])
    )
    assert sorted(good + list(errors)) == list(range(len(rows)))
    assert batch.size == len(good) and batch.matrix().shape == (len(good), 2)


def input_spec(name: str) -> st.SearchStrategy[InputSpec]:
    return st.builds(
        InputSpec,
        st.just(name),
        type=st.sampled_from(INPUT_TYPES),
        shape=st.sampled_from([(), (), (2,), (-1,), (2, -1)]),
        nullable=st.booleans(),
    )


@hypothesis_settings
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "A", "c d"]), json_values, max_size=4),
        max_size=8,
    ),
    schema=st.tuples(input_spec("a"), input_spec("b")).map(InputSchema),
)
def test_typed_batches_never_raise_and_account_for_every_row(
    rows: list[dict[str, Any]], schema: InputSchema
) -> None:
    """Whatever the records and the types of the model's inputs (text, numbers, tensors)."""
    batch, good, errors = build_batch(rows, FieldBinder(schema.names, None), schema)
    assert sorted(good + list(errors)) == list(range(len(rows)))
    assert batch.size == len(good)
    assert all(len(column) == len(good) for column in batch.columns.values())


@settings(max_examples=150, deadline=None)
@given(key=st.none() | st.text(max_size=10).map(str.encode), doc=descriptor_like | json_values)
def test_lifecycle_never_raises_and_never_serves_garbage(key: bytes | None, doc: Any) -> None:
    events: list[dict[str, Any]] = []

    async def sink(event: ModelEvent) -> None:
        events.append(event.model_dump(by_alias=True))

    registry = Registry()
    lifecycle = ModelLifecycle(
        registry, Loader(Settings()), sink, Metrics(), "fuzz", ControlLimits(10**6)
    )
    asyncio.run(lifecycle.apply(key, orjson.dumps(doc)))
    assert registry.serving_count() == 0
    assert all(e["status"] in ("rejected", "failed") for e in events)
