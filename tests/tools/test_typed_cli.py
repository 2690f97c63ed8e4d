"""The CLI's side of typed records: ``publish --schema`` (a JSON array, or a file holding
one) and ``send`` reading a CSV's numbers, text and empty cells."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from service.tools.publishing import build_descriptor
from service.tools.publishing_cli import schema_argument
from service.tools.sending import read_records

SCHEMA = '[{"name": "workclass", "type": "string"}, {"name": "age", "type": "integer"}]'


def test_schema_is_a_json_array_or_a_file_holding_one(tmp_path: Path) -> None:
    given = schema_argument(SCHEMA)
    assert given == [{"name": "workclass", "type": "string"}, {"name": "age", "type": "integer"}]
    path = tmp_path / "schema.json"
    path.write_text(SCHEMA)
    assert schema_argument(str(path)) == given
    for bad in ('{"name": "a"}', "not json", str(tmp_path / "absent.json")):
        with pytest.raises(argparse.ArgumentTypeError):
            schema_argument(bad)


def test_the_schema_reaches_the_descriptor(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    descriptor = build_descriptor(model, "m", "census", schema=schema_argument(SCHEMA))
    declared = descriptor.declared_schema()
    assert declared is not None
    assert declared.document() == [
        {"name": "workclass", "type": "string", "shape": []},
        {"name": "age", "type": "integer", "shape": []},
    ]
    assert descriptor.input_names() == ["workclass", "age"]


def test_send_reads_numbers_text_and_empty_cells_as_null(tmp_path: Path) -> None:
    path = tmp_path / "census.csv"
    path.write_text("age,workclass,hours-per-week\n25,Self-emp,\n,Private,40\n")
    assert list(read_records(path)) == [
        {"age": 25.0, "workclass": "Self-emp", "hours-per-week": None},
        {"age": None, "workclass": "Private", "hours-per-week": 40.0},
    ]
