"""The runtimes modelserve serves, in one table: model type → factory, with its file
extensions, its protobuf enum number and what it can do. Descriptor validation, the protobuf
mapping, ``publish --type`` and the extensions it guesses from all read this table. Adding a
runtime is one module (a ``load(request) -> Model`` function) and one entry here. A type not
in the table is refused by name; nothing falls through to another runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Literal, cast

from service.inputs.schema import InputSchema
from service.runtimes.base import Model

PmmlEngineChoice = Literal["auto", "pypmml", "jpmml"]


@dataclass(frozen=True)
class LoadOptions:
    """The service's settings that runtimes read."""

    pickle_key: str | None = None
    # Threads a model may use for one batch: the cores this worker process has to itself.
    intra_op_threads: int = 1
    pmml_engine: PmmlEngineChoice = "auto"


@dataclass(frozen=True)
class LoadRequest:
    """A verified artifact and what its descriptor says about it."""

    artifact: bytes
    inputs: Sequence[str] | None = None
    labels: Sequence[str] | None = None
    signature: str | None = None
    options: LoadOptions = field(default_factory=LoadOptions)
    # The descriptor's ``schema``: what a runtime whose format does not say (a pickle) reads.
    schema: InputSchema | None = None


Factory = Callable[[LoadRequest], Model]


@dataclass(frozen=True)
class Runtime:
    model_type: str
    proto_number: int
    extensions: tuple[str, ...]
    # "module:function", imported when the first model of the type loads: a service that
    # serves only ONNX never starts a JVM, and this table imports no runtime.
    factory: str
    description: str
    # The artifact carries an HMAC signature (descriptor ``signature``), checked before it is
    # opened: publishing signs it.
    signed: bool = False

    def load(self, request: LoadRequest) -> Model:
        module, _, name = self.factory.partition(":")
        factory = cast(Factory, getattr(import_module(module), name))
        return factory(request)


class UnknownModelTypeError(ValueError):
    pass


@dataclass(frozen=True)
class Catalog:
    runtimes: tuple[Runtime, ...]

    def __iter__(self) -> Iterator[Runtime]:
        return iter(self.runtimes)

    def names(self) -> list[str]:
        return [r.model_type for r in self.runtimes]

    def get(self, model_type: str) -> Runtime:
        """The runtime of a model type (case-insensitive); refused by name when unknown."""
        for runtime in self.runtimes:
            if runtime.model_type == model_type.upper():
                return runtime
        raise UnknownModelTypeError(
            f"unknown modelType {model_type!r}: modelserve serves {', '.join(self.names())}"
        )

    def for_proto_number(self, number: int, enum_name: str) -> Runtime:
        for runtime in self.runtimes:
            if runtime.proto_number == number:
                return runtime
        raise UnknownModelTypeError(f"{enum_name} models are not served by modelserve")

    def for_extension(self, suffix: str) -> Runtime | None:
        for runtime in self.runtimes:
            if suffix.lower() in runtime.extensions:
                return runtime
        return None


RUNTIMES = Catalog(
    (
        Runtime(
            "ONNX",
            proto_number=3,
            extensions=(".onnx",),
            factory="service.runtimes.onnx:load",
            description="ONNX graphs through onnxruntime",
        ),
        Runtime(
            "PMML",
            proto_number=2,
            extensions=(".pmml", ".xml"),
            factory="service.runtimes.pmml:load",
            description="PMML through JPMML-Evaluator (the reference) or pypmml",
        ),
        Runtime(
            "PICKLE",
            proto_number=4,
            extensions=(".pkl", ".pickle", ".joblib"),
            factory="service.runtimes.pickle:load",
            description="HMAC-signed joblib/pickle estimators (scikit-learn API)",
            signed=True,
        ),
    )
)
