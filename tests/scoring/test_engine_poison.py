"""Property-based: no record on a data topic can stop, crash or fool the engine (issue 18).

A batch is scored by one loop shared by every dataType, so one poison record (bytes that are
not JSON, JSON nested past the stack, numbers past a double, odd unicode, a protobuf header
over junk) must cost exactly its own dead letter: every other record in the batch, and the
next batch, is answered as if the poison had never been there. Here the model is real (the
wine forest of tests/models.py) and the good records' answers are compared with what it
answers to each alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.metrics import Metrics
from service.proto.wine_record_pb2 import WineRecord
from service.routing.registry import Registry
from service.runtimes.onnx import OnnxModel
from service.scoring.engine import Engine
from service.scoring.outcome import Outcome
from service.scoring.records import LocalRecord
from service.serving.descriptor import ModelDescriptor
from service.wine import WINE_FIELDS
from tests import strategies
from tests.models import ModelFiles

REASONS = {"decode-error", "invalid-record", "no-model", "scoring-error"}
GOOD_ROWS = 40
NETS = ("could not be decoded", "could not score it")
PROTOBUF = ("content-type", b"application/x-protobuf")

json_values = strategies.json_values(max_size=3, max_leaves=10)
tricky_text = strategies.tricky_text
# JSON texts a field or the id can hold, written out (orjson encodes none of them).
raw_values = (
    st.integers(1, 1500).map(lambda k: b"[" * k + b"]" * k)
    | st.integers(1, 1500).map(lambda k: b'{"a":' * k + b"1" + b"}" * k)
    | st.sampled_from(
        [b"1e400", b"-1e400", b"1e-400", b"9" * 400, b"18446744073709551616", b"NaN", b"-0"]
    )
    | st.sampled_from([b'"\xed\xa0\x80"', b'"\\ud800"', b'"wine\\u0000"', b'"\xef\xbb\xbfwine"'])
    | json_values.map(orjson.dumps)
)


class Model:
    """The engine over a registry serving the wine forest, and each good row's answer when
    the model scores it alone."""

    def __init__(self, files: ModelFiles) -> None:
        artifact = files.forest_onnx.read_bytes()
        descriptor = ModelDescriptor.model_validate(
            {"name": "rf", "version": 1, "dataType": "wine", "modelType": "ONNX", "data": artifact}
        )
        self.registry = Registry()
        self.registry.begin_load(descriptor)
        self.registry.install(
            descriptor, OnnxModel(artifact, WINE_FIELDS, files.forest_classes), "d" * 64
        )
        self.engine = Engine(self.registry, Metrics(), None)
        self.docs = [
            {
                "id": f"good-{i}",
                "dataType": "wine",
                **dict(zip(WINE_FIELDS, row.tolist(), strict=True)),
            }
            for i, row in enumerate(files.features[:GOOD_ROWS])
        ]
        alone = [asyncio.run(self.engine.score([self.good(i)]))[0] for i in range(GOOD_ROWS)]
        assert all(o.result_json is not None for o in alone)
        self.alone = [o.result_json for o in alone]

    def good(self, i: int) -> LocalRecord:
        return LocalRecord(orjson.dumps(self.docs[i]), topic="data", partition=0, offset=i)

    def fragment(self, i: int) -> bytes:
        """The good row's fields as JSON text, without the braces."""
        return orjson.dumps(self.docs[i])[1:-1]


@pytest.fixture(scope="module")
def wine(model_files: ModelFiles) -> Model:
    return Model(model_files)


def wine_record(alcohol: float, data_type: str) -> bytes:
    """A protobuf WineRecord: its floats may be NaN or infinite, which JSON cannot carry."""
    return bytes(WineRecord(alcohol=alcohol, pH=3.2, dataType=data_type).SerializeToString())


def poison_of(wine: Model) -> st.SearchStrategy[LocalRecord]:
    field = st.sampled_from(["id", "dataType", "alcohol", "pH", "x"])
    row = st.integers(0, GOOD_ROWS - 1)

    def embedded(i: int, name: str, raw: bytes) -> bytes:
        return b"{" + wine.fragment(i) + b',"' + name.encode() + b'":' + raw + b"}"

    def replaced(i: int, name: str, value: Any) -> bytes:
        return orjson.dumps({**wine.docs[i], name: value})

    values = (
        st.none()
        | st.binary(max_size=200)
        | json_values.map(orjson.dumps)
        | st.builds(embedded, row, field, raw_values)
        | st.builds(replaced, row, field, json_values)
        | st.builds(replaced, row, st.just("dataType"), tricky_text)
    )
    headers = st.sampled_from([(), (PROTOBUF,)]) | st.lists(
        st.tuples(st.sampled_from(["content-type", "data-type", "x"]), st.binary(max_size=30)),
        max_size=2,
    ).map(tuple)
    return st.builds(
        lambda value, key, headers: LocalRecord(value, key, headers, "data", 1, 0),
        values,
        st.none() | st.binary(max_size=20),
        headers,
    ) | st.builds(
        lambda value: LocalRecord(value, None, (PROTOBUF,), "data", 1, 0),
        st.binary(max_size=100) | st.builds(wine_record, st.floats(), tricky_text),
    )


def check(outcomes: Sequence[Outcome], records: Sequence[LocalRecord]) -> None:
    assert len(outcomes) == len(records)
    for outcome, record in zip(outcomes, records, strict=True):
        assert outcome.record is record
        if outcome.result_json is None:
            assert outcome.error is not None and outcome.error.reason in REASONS, outcome.error
            assert len(str(outcome.error)) <= 512
            # The safety nets' words: a decoder or a route failed where nothing was foreseen.
            assert not any(net in str(outcome.error) for net in NETS), outcome.error
        else:
            assert outcome.error is None
            orjson.loads(outcome.result_json)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_poison_costs_only_its_own_record(wine: Model, data: st.DataObject) -> None:
    goods = data.draw(st.lists(st.integers(0, GOOD_ROWS - 1), max_size=6), "good rows")
    poison = data.draw(st.lists(poison_of(wine), min_size=1, max_size=6), "poison")
    mixed: list[tuple[int | None, LocalRecord]] = [(i, wine.good(i)) for i in goods]
    mixed += [(None, record) for record in poison]
    mixed = data.draw(st.permutations(mixed), "order")
    records = [record for _, record in mixed]

    scored = asyncio.run(wine.engine.score_stream(records))
    check(scored.outcomes, records)
    assert scored.sides == []  # no route: nothing to shadow
    for (i, _), outcome in zip(mixed, scored.outcomes, strict=True):
        if i is not None:
            assert outcome.error is None, outcome.error
            assert outcome.record_id == f"good-{i}" and outcome.data_type == "wine"
            assert outcome.result_json == wine.alone[i]
        else:
            event(outcome.error.reason if outcome.error is not None else "prediction")

    after = [wine.good(i) for i in range(0, GOOD_ROWS, 3)]
    outcomes = asyncio.run(wine.engine.score_stream(after)).outcomes
    check(outcomes, after)
    assert [o.result_json for o in outcomes] == wine.alone[::3]


@pytest.mark.parametrize("field", ["id", "dataType", "alcohol"])
def test_a_batch_beside_a_record_deeper_than_the_parser(wine: Model, field: str) -> None:
    deep = b"[" * 1500 + b"]" * 1500
    records = [
        wine.good(0),
        LocalRecord(b"{" + wine.fragment(1) + b',"' + field.encode() + b'":' + deep + b"}"),
        wine.good(2),
    ]
    outcomes = asyncio.run(wine.engine.score_stream(records)).outcomes
    check(outcomes, records)
    assert outcomes[1].error is not None and outcomes[1].error.reason == "decode-error"
    assert [outcomes[0].result_json, outcomes[2].result_json] == [wine.alone[0], wine.alone[2]]
