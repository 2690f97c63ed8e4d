"""The protocol's messages as every transport shares them, decoded: REST's JSON (and binary
data), gRPC's protobuf and Kafka's records become these, and answers are these before each
transport encodes them its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

Parameters = dict[str, str | int | float | bool]


class OipError(Exception):
    """A request the service does not answer, with the status REST gives it (400: the
    request is wrong; 404: no such model or version; 503: not ready; 500: the model failed);
    gRPC and Kafka map it to their own forms. The message reaches the client as ``error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelLoadingError(OipError):
    """503 for a model the service is loading (published, or replayed at start): not ready
    yet, which REST and gRPC tell the client to try again, and Kafka, with no client to ask
    later, dead-letters as it does a model not loaded (``no-model``)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


@dataclass(frozen=True)
class Tensor:
    """A decoded tensor: ``data`` has ``shape`` and the element type of ``datatype``
    (BYTES: an object array of str or bytes)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: npt.NDArray[Any]


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool | None = None  # None: as the request's default


@dataclass
class InferRequest:
    inputs: list[Tensor]
    id: str | None = None
    outputs: list[RequestedOutput] | None = None  # None: every output
    parameters: Parameters = field(default_factory=dict)
    binary_outputs: bool = False  # the binary data extension's default for outputs

    @property
    def rows(self) -> int:
        """The batch size the request claims: its first input's first dimension."""
        first = self.inputs[0] if self.inputs else None
        return first.shape[0] if first is not None and first.shape else 0


@dataclass(frozen=True)
class OutputTensor:
    tensor: Tensor
    binary: bool = False


@dataclass
class InferResponse:
    model_name: str
    model_version: str
    outputs: list[OutputTensor]
    id: str | None = None
    parameters: Parameters = field(default_factory=dict)


@dataclass(frozen=True)
class TensorMetadata:
    name: str
    datatype: str
    shape: tuple[int, ...]

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorMetadata, ...]
    outputs: tuple[TensorMetadata, ...]

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": list(self.versions),
            "platform": self.platform,
            "inputs": [t.document() for t in self.inputs],
            "outputs": [t.document() for t in self.outputs],
        }
