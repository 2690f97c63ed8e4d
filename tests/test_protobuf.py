"""Protobuf descriptors and WineRecords: wire compatibility with Lightbend's messages, the
generated code kept in step with schemas/, and decoding into the one validator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from service.control.descriptor import parse_descriptor
from service.errors import DecodeError, DescriptorRejectedError, InvalidRecordError
from service.proto.model_descriptor_pb2 import ModelDescriptor as Proto
from service.proto.wine_record_pb2 import WineRecord
from service.protobuf import encode_wine_record, wine_record_fields
from service.scoring.records import LocalRecord, decode_record
from service.wine import WINE_FIELDS

ROOT = Path(__file__).resolve().parent.parent
PROTOBUF = [("content-type", b"application/x-protobuf")]


def lightbend_descriptor_class() -> type:
    """Lightbend's own ModelDescriptor (fields 1-6), built independently of our .proto."""
    file = descriptor_pb2.FileDescriptorProto(name="lightbend.proto", package="lb", syntax="proto3")
    msg = file.message_type.add(name="ModelDescriptor")
    enum = msg.enum_type.add(name="ModelType")
    for number, name in enumerate(["TENSORFLOW", "TENSORFLOWSAVED", "PMML"]):
        enum.value.add(name=name, number=number)
    F = descriptor_pb2.FieldDescriptorProto
    msg.oneof_decl.add(name="MessageContent")
    for number, name, kind in [
        (1, "name", F.TYPE_STRING),
        (2, "description", F.TYPE_STRING),
        (3, "dataType", F.TYPE_STRING),
    ]:
        msg.field.add(name=name, number=number, type=kind, label=F.LABEL_OPTIONAL)
    msg.field.add(
        name="modeltype",
        number=4,
        type=F.TYPE_ENUM,
        type_name=".lb.ModelDescriptor.ModelType",
        label=F.LABEL_OPTIONAL,
    )
    msg.field.add(name="data", number=5, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL, oneof_index=0)
    msg.field.add(
        name="location", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    found: type = message_factory.GetMessageClass(pool.FindMessageTypeByName("lb.ModelDescriptor"))
    return found


def test_generated_code_matches_the_schemas(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'schemas'}",
            f"--python_out={tmp_path}",
            "model_descriptor.proto",
            "wine_record.proto",
        ],
        check=True,
        cwd=ROOT / "schemas",
    )
    # The Open Inference Protocol's file as the Makefile reads it: mapped to service/proto/.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-Iservice/proto={ROOT / 'schemas'}",
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(ROOT / "schemas/open_inference_grpc.proto"),
        ],
        check=True,
        cwd=ROOT,
    )
    generated = {
        "model_descriptor_pb2.py": tmp_path,
        "wine_record_pb2.py": tmp_path,
        "open_inference_grpc_pb2.py": tmp_path / "service/proto",
        "open_inference_grpc_pb2_grpc.py": tmp_path / "service/proto",
    }
    for name, folder in generated.items():
        assert (folder / name).read_text() == (ROOT / "service/proto" / name).read_text(), name


def test_a_lightbend_descriptor_decodes_as_ours() -> None:
    lightbend = lightbend_descriptor_class()(
        name="wine-pmml",
        description="from the tutorial",
        dataType="wine",
        modeltype=2,
        data=b"<PMML/>",
    )
    d = parse_descriptor(b"wine-pmml", lightbend.SerializeToString(), PROTOBUF)
    assert (d.name, d.description, d.data_type, d.model_type, d.data) == (
        "wine-pmml",
        "from the tutorial",
        "wine",
        "PMML",
        b"<PMML/>",
    )
    assert d.version is None and d.location is None


def test_extensions_round_trip() -> None:
    message = Proto(
        name="m",
        dataType="wine",
        modeltype=Proto.ONNX,
        location="file:///m.onnx",
        sha256="ab" * 32,
        version=7,
        inputs=["a", "b"],
        labels=["x", "y"],
        expiresAt="2030-01-01T00:00:00Z",
        fieldMap={"a": "A"},
        rollback=True,
    )
    message.metadata.update({"owner": "ds", "auc": 0.9})
    d = parse_descriptor(b"m", message.SerializeToString(), PROTOBUF)
    assert (d.model_type, d.location, d.version, d.inputs, d.labels) == (
        "ONNX",
        "file:///m.onnx",
        7,
        ["a", "b"],
        ["x", "y"],
    )
    assert d.field_map == {"a": "A"} and d.rollback and d.metadata == {"owner": "ds", "auc": 0.9}
    assert d.expires_at is not None and d.expires_at.year == 2030


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (Proto(name="m", dataType="wine", modeltype=42, data=b"x"), "modeltype 42"),
        (Proto(name="m", dataType="wine", modeltype=Proto.PMML), "exactly one of data / location"),
        (Proto(name="", dataType="wine", modeltype=Proto.PMML, data=b"x"), "name"),
    ],
)
def test_bad_protobuf_descriptors_are_rejected(message: Proto, fragment: str) -> None:
    with pytest.raises(DescriptorRejectedError, match=fragment):
        parse_descriptor(None, message.SerializeToString(), PROTOBUF)


def test_garbage_protobuf_is_rejected() -> None:
    with pytest.raises(DescriptorRejectedError, match="protobuf"):
        parse_descriptor(None, b"\xff\xff\xff", PROTOBUF)


def test_wine_records() -> None:
    fields = {name: float(i) + 0.5 for i, name in enumerate(WINE_FIELDS)}
    raw = encode_wine_record(fields, "wine", 123)
    assert wine_record_fields(raw) == {**fields, "dataType": "wine"}
    decoded = decode_record(LocalRecord(raw, key=b"r1", headers=tuple(PROTOBUF)), None)
    assert decoded.data_type == "wine" and decoded.record_id == "r1" and decoded.fields["pH"] == 8.5
    with pytest.raises(DecodeError, match="WineRecord"):
        decode_record(LocalRecord(b"\xff\xff", headers=tuple(PROTOBUF)), "wine")


@pytest.mark.parametrize(
    ("raw", "error", "fragment"),
    [
        (b"", InvalidRecordError, "no feature"),
        (WineRecord(dataType="wine").SerializeToString(), InvalidRecordError, "no feature"),
        (WineRecord(ts=5).SerializeToString(), InvalidRecordError, "no feature"),
        (b"\x08\x01", DecodeError, "field 1 is sent as varint"),
        (b"\x62\x05ab", DecodeError, "WineRecord"),  # dataType cut short
        (
            WineRecord(alcohol=9.5).SerializeToString() + b"\x0d\x00\x00\x00\x00",
            DecodeError,
            "32-bit",
        ),
    ],
)
def test_protobuf_junk_is_never_read_as_an_all_zero_wine(
    raw: bytes, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        decode_record(LocalRecord(raw, headers=tuple(PROTOBUF)), "wine")


def test_a_wine_with_absent_features_reads_them_as_zero() -> None:
    """proto3 leaves 0.0 off the wire: citric acid 0.0 is a real wine's."""
    fields = wine_record_fields(WineRecord(alcohol=9.5, pH=3.2).SerializeToString())
    assert fields["alcohol"] == 9.5 and fields["citric_acid"] == 0.0
    # A field number the schema does not know (a newer producer's) is passed over.
    assert wine_record_fields(WineRecord(alcohol=9.5).SerializeToString() + b"\x78\x01")


def test_lightbends_client_as_it_writes_no_key_no_headers() -> None:
    """DataProvider.scala: ``sender.writeValue(topic, bytes)``; modeltype TENSORFLOW (0) is
    proto3's default, so it is not on the wire at all, and absent means TENSORFLOW."""
    lightbend = lightbend_descriptor_class()
    graph = lightbend(
        name="data/optimized_WineQuality",
        description="generated from TensorFlow",
        dataType="wine",
        data=b"graph-bytes",
    )
    d = parse_descriptor(None, graph.SerializeToString())
    assert (d.name, d.model_type, d.data) == (
        "data/optimized_WineQuality",
        "TENSORFLOW",
        b"graph-bytes",
    )
    saved = lightbend(
        name="tensorflow saved model", dataType="wine", modeltype=1, location="data/saved/1/"
    )
    d = parse_descriptor(None, saved.SerializeToString())
    assert (d.name, d.model_type, d.location, d.sha256) == (
        "tensorflow saved model",
        "TENSORFLOWSAVED",
        "data/saved/1/",
        None,
    )


def test_a_value_with_no_content_type_is_json_when_it_is_an_object() -> None:
    d = parse_descriptor(
        None, b' \n{"name": "m", "dataType": "w", "modelType": "onnx", "data": ""}'
    )
    assert d.model_type == "ONNX"
    # Neither a JSON object nor a protobuf message: refused as not JSON, what it most looks like.
    with pytest.raises(DescriptorRejectedError, match="not JSON"):
        parse_descriptor(None, b"not json")
    with pytest.raises(DescriptorRejectedError, match="JSON object"):
        parse_descriptor(None, b"[1, 2]")


def test_headerless_wine_records_are_protobuf_and_json_objects_stay_json() -> None:
    fields = {name: float(i) + 0.5 for i, name in enumerate(WINE_FIELDS)}
    raw = encode_wine_record(fields, "wine", 123)
    decoded = decode_record(LocalRecord(raw), None)  # no key, no headers
    assert decoded.fields == {**fields, "dataType": "wine"} and decoded.data_type == "wine"
    as_json = decode_record(LocalRecord(b'{"pH": 3.1}'), "wine")
    assert as_json.fields == {"pH": 3.1}
    with pytest.raises(DecodeError, match=r"not JSON.*nor a protobuf WineRecord"):
        decode_record(LocalRecord(b"\xff{not json"), "wine")
    with pytest.raises(DecodeError, match="JSON list, not an object"):
        decode_record(LocalRecord(b"[1, 2]"), "wine")
    # A content-type that says JSON is read as JSON only.
    json_only = (("content-type", b"application/json"),)
    with pytest.raises(DecodeError, match="not JSON"):
        decode_record(LocalRecord(raw, headers=json_only), "wine")


def test_the_new_types_fields_come_through_protobuf() -> None:
    saved = Proto(
        name="s",
        dataType="wine",
        modeltype=Proto.TENSORFLOWSAVED,
        location="data/saved/1/",
        outputs=["dense_3/Sigmoid"],
        signatureName="predict",
    )
    d = parse_descriptor(b"s", saved.SerializeToString(), PROTOBUF)
    assert (d.model_type, d.outputs, d.signature_name) == (
        "TENSORFLOWSAVED",
        ["dense_3/Sigmoid"],
        "predict",
    )
    handler = Proto(name="p", dataType="wine", modeltype=Proto.PYTHON, handler="acme.m:make")
    d = parse_descriptor(b"p", handler.SerializeToString(), PROTOBUF)
    assert (d.model_type, d.handler, d.data, d.location) == ("PYTHON", "acme.m:make", None, None)
    mojo = Proto(name="h", dataType="shop", modeltype=Proto.H2O, data=b"PK")
    assert parse_descriptor(b"h", mojo.SerializeToString(), PROTOBUF).model_type == "H2O"


def test_json_that_is_not_an_object_is_refused_as_such_never_read_as_protobuf() -> None:
    """100000000's bytes also parse as a WineRecord (field 6, a tiny double): a JSON value is
    JSON, refused as one that is not an object."""
    assert wine_record_fields(b"100000000")  # the ambiguity this guards against
    with pytest.raises(DecodeError, match="JSON int, not an object"):
        decode_record(LocalRecord(b"100000000"), "wine")
    with pytest.raises(DescriptorRejectedError, match="JSON object"):
        parse_descriptor(None, b"100000000")
