"""The runtime catalog is the one table every model type comes from: descriptor validation,
the protobuf enum, the JSON Schema, `publish --type` and the extensions all agree with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.control.descriptor import validate_descriptor
from service.errors import DescriptorRejectedError
from service.proto.model_descriptor_pb2 import ModelDescriptor as Proto
from service.protobuf import descriptor_document
from service.runtimes.catalog import RUNTIMES, Factory, UnknownModelTypeError
from service.tools.cli import build_parser
from service.tools.publishing import runtime_for

ROOT = Path(__file__).resolve().parents[2]


def test_every_entry_names_a_loadable_factory() -> None:
    for runtime in RUNTIMES:
        module, _, name = runtime.factory.partition(":")
        factory: Factory = getattr(__import__(module, fromlist=[name]), name)
        assert callable(factory), runtime.model_type


def test_the_proto_enum_and_the_catalog_agree() -> None:
    """Every enum value is served, TENSORFLOW (0) and TENSORFLOWSAVED (1) with Lightbend's
    numbers; 0 is proto3's default, so a descriptor that names no modeltype is TENSORFLOW."""
    served = {r.model_type: r.proto_number for r in RUNTIMES}
    assert {name: Proto.ModelType.Value(name) for name in served} == served
    assert set(Proto.ModelType.keys()) == set(served)
    assert (served["TENSORFLOW"], served["TENSORFLOWSAVED"]) == (0, 1)
    unnamed = Proto(name="m", dataType="d", data=b"x")
    assert descriptor_document(unnamed.SerializeToString())["modelType"] == "TENSORFLOW"


def test_an_enum_number_no_one_defined_is_refused_by_number() -> None:
    message = Proto(name="m", dataType="d", data=b"x")
    message.modeltype = 42  # proto3 enums are open
    with pytest.raises(DescriptorRejectedError, match="modeltype 42 models are not served"):
        descriptor_document(message.SerializeToString())


def test_the_json_schema_lists_exactly_the_catalog() -> None:
    schema = json.loads((ROOT / "schemas/model_descriptor.schema.json").read_text())
    pattern = schema["properties"]["modelType"]["pattern"]
    listed = re.fullmatch(r"\^\(\?i:(.*)\)\$", pattern)
    assert listed is not None
    assert sorted(listed.group(1).upper().split("|")) == sorted(RUNTIMES.names())


@pytest.mark.parametrize("model_type", ["keras", "TENSORFLOW2", "", "pickle2", "mojo"])
def test_an_unknown_type_is_refused_by_name(model_type: str) -> None:
    doc = {"name": "m", "dataType": "d", "modelType": model_type, "data": "AA=="}
    with pytest.raises(DescriptorRejectedError, match="unknown modelType") as caught:
        validate_descriptor(doc)
    assert repr(model_type) in str(caught.value)
    with pytest.raises(UnknownModelTypeError):
        RUNTIMES.get(model_type)


def test_types_are_case_insensitive_and_stored_upper_case() -> None:
    doc = {"name": "m", "dataType": "d", "modelType": "pMmL", "data": "AA=="}
    assert validate_descriptor(doc).model_type == "PMML"


def test_publish_type_choices_and_extensions_come_from_the_catalog() -> None:
    parser = build_parser()
    args = parser.parse_args(["publish", "m.bin", "--name", "n", "--data-type", "d"])
    assert args.type is None
    for runtime in RUNTIMES:
        parsed = parser.parse_args(
            [
                "publish",
                "m.bin",
                "--name",
                "n",
                "--data-type",
                "d",
                "--type",
                runtime.model_type.lower(),
            ]
        )
        assert runtime_for(Path("m.bin"), parsed.type) is runtime
        for extension in runtime.extensions:
            assert runtime_for(Path(f"model{extension.upper()}"), None) is runtime
    with pytest.raises(ValueError, match="pass --type"):
        runtime_for(Path("model.bin"), None)
    with pytest.raises(SystemExit):
        parser.parse_args(["publish", "m", "--name", "n", "--data-type", "d", "--type", "keras"])


def test_only_signed_runtimes_demand_a_key() -> None:
    assert [r.model_type for r in RUNTIMES if r.signed] == ["PICKLE"]
