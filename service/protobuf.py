"""Protobuf forms of the contract's messages (schemas/*.proto): Lightbend's ModelDescriptor,
extended, on the control topic, and Lightbend's WineRecord on the data topic."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from service.errors import DecodeError, DescriptorRejectedError, InvalidRecordError
from service.proto.model_descriptor_pb2 import ModelDescriptor as ModelDescriptorProto
from service.proto.wine_record_pb2 import WineRecord
from service.runtimes.catalog import RUNTIMES, UnknownModelTypeError

CONTENT_TYPE = "application/x-protobuf"
_WINE_FEATURES = [f.name for f in WineRecord.DESCRIPTOR.fields if f.number <= 11]
_WINE_FIELD_NUMBERS = frozenset(f.number for f in WineRecord.DESCRIPTOR.fields)
_WIRE_TYPES = {0: "varint", 1: "64-bit", 2: "length-delimited", 5: "32-bit"}


def is_protobuf(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip().lower() == CONTENT_TYPE


_JSON_WHITESPACE = b" \t\r\n"


def looks_like_protobuf(value: bytes) -> bool:
    """Whether a value that comes with no content-type is read as protobuf: Lightbend's client
    writes its descriptors and WineRecords with no key and no headers. A JSON object starts
    with ``{`` (after JSON's whitespace); a protobuf message never does (0x7B would open a
    group of field 15, which neither message has). A value that is neither is said to be not
    JSON, its usual reader's error, by the caller."""
    return not value.lstrip(_JSON_WHITESPACE).startswith(b"{")


class UnreadableProtobuf(DescriptorRejectedError):
    """Bytes that are not a protobuf message at all (not one refused for what it says)."""


def descriptor_document(value: bytes) -> dict[str, Any]:
    """The descriptor as the JSON document it stands for, for the one validator of both."""
    message = ModelDescriptorProto()
    try:
        message.ParseFromString(value)
    except ProtobufDecodeError as exc:
        raise UnreadableProtobuf(f"descriptor is not a valid protobuf message: {exc}") from exc
    enum = ModelDescriptorProto.ModelType
    number = message.modeltype
    enum_name = enum.Name(number) if number in enum.values() else f"modeltype {number}"
    try:
        model_type = RUNTIMES.for_proto_number(number, enum_name).model_type
    except UnknownModelTypeError as exc:
        raise DescriptorRejectedError(str(exc)) from exc
    doc: dict[str, Any] = {
        "name": message.name,
        "description": message.description,
        "dataType": message.dataType,
        "modelType": model_type,
    }
    content = message.WhichOneof("MessageContent")
    if content == "data":
        doc["data"] = message.data
    elif content == "location":
        doc["location"] = message.location
    if message.HasField("version"):
        doc["version"] = message.version
    for field in (
        "sha256",
        "expiresAt",
        "signature",
        "signatureName",
        "handler",
        "endpoint",
        "remoteModel",
        "remoteVersion",
    ):
        if getattr(message, field):
            doc[field] = getattr(message, field)
    for field in ("inputs", "labels", "outputs"):
        if getattr(message, field):
            doc[field] = list(getattr(message, field))
    if message.outputMap:
        if message.outputs:
            raise DescriptorRejectedError("outputs and outputMap are exclusive")
        doc["outputs"] = dict(message.outputMap)
    if message.fieldMap:
        doc["fieldMap"] = dict(message.fieldMap)
    if message.schema:
        doc["schema"] = [
            {"name": i.name, "type": i.type or "double", "shape": list(i.shape)}
            for i in message.schema
        ]
    if message.HasField("metadata"):
        try:
            doc["metadata"] = MessageToDict(message.metadata)
        except ValueError as exc:  # NaN or an infinity: not JSON
            raise DescriptorRejectedError(f"metadata is not JSON: {exc}") from None
    if message.rollback:
        doc["rollback"] = True
    return doc


def wine_record_fields(value: bytes) -> dict[str, Any]:
    """A WineRecord as a record's fields: the eleven features and, when set, ``dataType``.

    proto3 leaves a 0.0 off the wire, so a feature that is absent is 0.0 (citric acid is 0.0
    in real rows; Lightbend's server reads it so). But bytes that carry no feature at all, or
    a field of the record with another wire type than its own, are not a wine: they are
    refused, never answered as an all-zero one."""
    record = WineRecord()
    try:
        record.ParseFromString(value)
    except ProtobufDecodeError as exc:
        raise DecodeError(f"value is not a valid WineRecord: {exc}") from exc
    for unknown in UnknownFieldSet(record):
        # The parser keeps a known field of the wrong wire type aside as unknown.
        if unknown.field_number in _WINE_FIELD_NUMBERS:
            wire = _WIRE_TYPES.get(unknown.wire_type, str(unknown.wire_type))
            raise DecodeError(
                f"value is not a valid WineRecord: field {unknown.field_number} "
                f"is sent as {wire}, not as its own type"
            )
    if not any(field.number <= 11 for field, _ in record.ListFields()):
        raise InvalidRecordError("WineRecord carries no feature")
    fields: dict[str, Any] = {name: getattr(record, name) for name in _WINE_FEATURES}
    if record.dataType:
        fields["dataType"] = record.dataType
    return fields


def encode_wine_record(fields: dict[str, Any], data_type: str = "", ts: int = 0) -> bytes:
    """A WineRecord's bytes from its eleven fields: what `modelserve send` writes and tests
    read back, so both sides of the wire are this module's."""
    record = WineRecord(dataType=data_type, ts=ts, **{k: float(fields[k]) for k in _WINE_FEATURES})
    return bytes(record.SerializeToString())
