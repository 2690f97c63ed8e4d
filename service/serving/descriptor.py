"""What a model is, as its publisher declares it: the ModelDescriptor (name, version, dataType,
model type, artifact or location, declared inputs and labels, expiry, metadata) and the bounds
on its fields. Both planes read it: the registry keeps it for every version, a model in
service carries it. Reading one off the control topic (JSON or protobuf, size and depth
limits, the record key) is the control codec's work, at the edge (control/descriptor.py)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from service.errors import DescriptorRejectedError
from service.inputs.schema import InputSchema, InputSpec, InputType
from service.runtimes.catalog import RUNTIMES
from service.untrusted import MODEL_NAME_PATTERN, checked_model_name

NAME_PATTERN = MODEL_NAME_PATTERN
ModelName = Annotated[
    str, StringConstraints(pattern=NAME_PATTERN), AfterValidator(checked_model_name)
]
# A PYTHON model's handler: an importable module, and optionally the callable in it.
# The model types that bring no artifact (a PYTHON model may; a REMOTE one never does).
_NO_ARTIFACT = frozenset(("PYTHON", "REMOTE"))
# What a REMOTE model's answer is made of, each named by one of the server's outputs.
RemoteAnswerPart = Literal["label", "probabilities", "classes", "value"]
HANDLER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?$"
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
# Versions are signed 64-bit integers: Kafka's and protobuf's int64, what JSON encoders and
# Prometheus take whole. The service assigns at most this one.
MAX_VERSION = 2**63 - 1
MAX_ITEMS = 100_000  # inputs, labels, fieldMap entries
MAX_DATA_TYPE_CHARS = 256


def no_version_left(highest: int) -> str:
    """Why a descriptor without a version is refused once the highest one is taken."""
    return f"no version is left after {highest}: give one (with rollback) or retire the name"


MAX_TENSOR_RANK = 8


class SchemaInput(BaseModel):
    """One input of the descriptor's ``schema``: what a model's format does not say itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=1024)
    type: InputType = "double"
    shape: list[Annotated[int, Field(ge=-1, le=2**31)]] = Field(
        default_factory=list, max_length=MAX_TENSOR_RANK
    )

    @field_validator("shape")
    @classmethod
    def _sized(cls, value: list[int]) -> list[int]:
        if 0 in value:
            raise ValueError("a dimension is -1 (any) or at least 1")
        return value

    def spec(self) -> InputSpec:
        return InputSpec(self.name, self.type, tuple(self.shape))


class ModelDescriptor(BaseModel):
    """What a data scientist publishes. Field names are the contract's (camelCase on the wire)."""

    model_config = ConfigDict(
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        regex_engine="python-re",  # the name pattern looks ahead (no "route:")
    )

    name: ModelName
    version: int | None = Field(None, ge=1, le=MAX_VERSION)
    description: str = Field("", max_length=4096)
    data_type: str = Field(alias="dataType", min_length=1, max_length=MAX_DATA_TYPE_CHARS)
    # One of the runtime catalog's types (service/runtimes/catalog.py), upper case.
    model_type: str = Field(alias="modelType")
    data: bytes | None = None
    location: str | None = Field(None, max_length=4096)
    sha256: Sha256Hex | None = None
    # Bounded, so that a refusal is cheap: validation says one error per bad item.
    inputs: list[str] | None = Field(None, max_length=MAX_ITEMS)
    field_map: dict[str, str] | None = Field(None, alias="fieldMap", max_length=MAX_ITEMS)
    labels: list[str] | None = Field(None, max_length=MAX_ITEMS)
    input_schema: list[SchemaInput] | None = Field(None, alias="schema", max_length=MAX_ITEMS)
    expires_at: datetime | None = Field(None, alias="expiresAt")
    signature: str | None = Field(None, max_length=256)
    # TENSORFLOWSAVED: the SavedModel's signature that serves (else serving_default, else the
    # only one). Not ``signature``, which is a PICKLE's HMAC.
    signature_name: str | None = Field(None, alias="signatureName", min_length=1, max_length=256)
    # TensorFlow: the output tensors the graph answers with (default: its one terminal one);
    # REMOTE: which of the server's outputs is which part of the answer ({"label": "predict"}).
    outputs: (
        list[Annotated[str, Field(min_length=1, max_length=1024)]]
        | dict[RemoteAnswerPart, Annotated[str, Field(min_length=1, max_length=1024)]]
        | None
    ) = Field(None, min_length=1, max_length=MAX_ITEMS)
    # REMOTE: the server (http(s)://host:port for OIP REST, grpc://host:port for OIP gRPC),
    # under MODELSERVE_ALLOWED_ENDPOINTS, and the model's name (and version) there.
    endpoint: str | None = Field(None, max_length=2048, pattern=r"^(https?|grpc)://[^\s]+$")
    remote_model: str | None = Field(None, alias="remoteModel", min_length=1, max_length=256)
    remote_version: str | None = Field(None, alias="remoteVersion", min_length=1, max_length=64)
    # PYTHON: "module:callable" (or a module exposing transform_list), from an allowed module.
    handler: str | None = Field(None, max_length=512, pattern=HANDLER_PATTERN)
    metadata: dict[str, Any] = Field(default_factory=dict)
    rollback: bool = False

    @field_validator("model_type", mode="before")
    @classmethod
    def _known_model_type(cls, value: object) -> object:
        if isinstance(value, str):
            return RUNTIMES.get(value).model_type  # refused by name when unknown
        return value

    @field_validator("data", mode="before")
    @classmethod
    def _decode_base64(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("data is not valid base64") from exc
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: object) -> object:
        if isinstance(value, list):
            return [str(item) if isinstance(item, int | float) else item for item in value]
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expiresAt needs a time zone (RFC 3339)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ModelDescriptor:
        if self.data is not None and self.location is not None:
            raise ValueError("data and location are exclusive")
        remote = self.model_type == "REMOTE"
        if remote and (self.data is not None or self.location is not None):
            raise ValueError("a REMOTE model has no artifact: no data, no location")
        if self.data is None and self.location is None and self.model_type not in _NO_ARTIFACT:
            raise ValueError("exactly one of data / location is required")
        if remote != (self.endpoint is not None) or remote != (self.remote_model is not None):
            raise ValueError("endpoint and remoteModel are required with REMOTE, and only with it")
        if self.remote_version is not None and not remote:
            raise ValueError("remoteVersion is for REMOTE models")
        if (self.handler is None) == (self.model_type == "PYTHON"):
            raise ValueError("handler is required with modelType PYTHON, and only with it")
        # Fields a runtime would not read are refused, never ignored.
        if isinstance(self.outputs, dict) and not remote:
            raise ValueError("outputs as a mapping is for REMOTE models")
        if isinstance(self.outputs, list) and not self.model_type.startswith("TENSORFLOW"):
            raise ValueError("outputs as a list names a TensorFlow model's output tensors")
        if self.signature_name is not None and self.model_type != "TENSORFLOWSAVED":
            raise ValueError("signatureName names a TensorFlow SavedModel's signature")
        # sha256 with a location: required unless the location is trusted, which only the
        # service's settings say (control/loader.py).
        if self.inputs is not None and not self.inputs:
            raise ValueError("inputs, when given, must name at least one field")
        if self.input_schema is not None:
            names = [spec.name for spec in self.input_schema]
            if not names:
                raise ValueError("schema, when given, must name at least one input")
            if len(set(names)) != len(names):
                raise ValueError("schema names an input twice")
            if self.inputs is not None and list(self.inputs) != names:
                raise ValueError("inputs and schema name different fields")
        return self

    def declared_schema(self) -> InputSchema | None:
        """The descriptor's ``schema``, when it gives one."""
        if self.input_schema is None:
            return None
        return InputSchema(tuple(spec.spec() for spec in self.input_schema))

    def input_names(self) -> list[str] | None:
        """The fields ``inputs`` (else ``schema``) names, when it names them."""
        if self.inputs is not None:
            return list(self.inputs)
        if self.input_schema is not None:
            return [spec.name for spec in self.input_schema]
        return None

    def verify_digest(self, artifact: bytes) -> str:
        """The artifact's sha256; raises if the descriptor names another one."""
        digest = hashlib.sha256(artifact).hexdigest()
        if self.sha256 is not None and digest != self.sha256:
            raise DescriptorRejectedError(
                f"sha256 mismatch: descriptor says {self.sha256}, artifact is {digest}"
            )
        return digest

    def with_version(self, version: int) -> ModelDescriptor:
        return self.model_copy(update={"version": version})

    def to_json(self) -> bytes:
        """The wire form, as `modelserve publish` sends it."""
        doc = self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"data"})
        if self.data is not None:
            doc["data"] = base64.b64encode(self.data).decode("ascii")
        if not self.rollback:
            doc.pop("rollback", None)
        return orjson.dumps(doc)
