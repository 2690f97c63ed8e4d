"""The runtimes modelserve serves, in one table: model type → factory, with its file
extensions, its protobuf enum number and what it can do. Descriptor validation, the protobuf
mapping, ``publish --type`` and the extensions it guesses from all read this table. Adding a
runtime is one module (a ``load(request) -> Model`` function) and one entry here. A type not
in the table is refused by name; nothing falls through to another runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal, cast

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
    # PYTHON models: the modules whose callables a handler may name (settings.python_handlers),
    # checked again at load, and how long one call of a handler may take.
    python_handlers: tuple[str, ...] = ()
    python_handler_timeout_s: float = 30.0
    # H2O models: the jar with H2O's genmodel classes (None: the `h2o` package's, if installed).
    h2o_genmodel_jar: str | None = None
    # REMOTE models: the endpoint prefixes allowed (settings.allowed_endpoints), a call's
    # time-out, the calls in flight per endpoint, and the process's endpoints (their breakers,
    # state and metrics: remote/endpoints.py), shared by every remote model of the
    # process; None: a model keeps its own (tests).
    allowed_endpoints: tuple[str, ...] = ()
    remote_timeout_s: float = 10.0
    remote_concurrency: int = 4
    endpoints: Any = None


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
    # The descriptor's ``outputs``: the output tensors a graph answers with (TensorFlow).
    outputs: Sequence[str] | None = None
    # The descriptor's ``signatureName``: which signature of a SavedModel serves.
    signature_name: str | None = None
    # PYTHON: the descriptor's ``handler`` ("module:callable") and ``metadata``.
    handler: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # False when the descriptor brought no artifact (a PYTHON model may have none):
    # ``artifact`` is then empty.
    artifact_given: bool = True
    # REMOTE: the server (``http(s)://host:port``: OIP REST; ``grpc://host:port``: OIP gRPC),
    # the model's name and version there, and which of its outputs is which part of the
    # answer (the descriptor's ``outputs`` as a mapping: {"label": "predict", ...}).
    endpoint: str | None = None
    remote_model: str | None = None
    remote_version: str | None = None
    output_map: Mapping[str, str] | None = None


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
        # Lightbend's numbers: TENSORFLOW is 0, proto3's default, so a descriptor that names
        # no modeltype is a TensorFlow graph, as Lightbend's client writes it.
        Runtime(
            "TENSORFLOW",
            proto_number=0,
            extensions=(".pb",),
            factory="service.runtimes.tensorflow_graph:load",
            description="frozen TensorFlow GraphDefs (the optional extra modelserve[tensorflow])",
        ),
        Runtime(
            "TENSORFLOWSAVED",
            proto_number=1,
            # A .tar.gz or .zip is a SavedModel only when it holds a saved_model.pb: the CLI
            # looks inside (tools/publishing.py), as a .zip may as well be an H2O MOJO.
            extensions=(),
            factory="service.runtimes.tensorflow_saved:load",
            description="TensorFlow SavedModels, archived or a directory by reference",
        ),
        Runtime(
            "H2O",
            proto_number=5,
            extensions=(),  # a MOJO is a .zip: the CLI looks inside
            factory="service.runtimes.h2o_mojo:load",
            description="H2O MOJOs through H2O's genmodel scorer, in the process's JVM",
        ),
        Runtime(
            "REMOTE",
            proto_number=7,
            extensions=(),  # no artifact: a model on another server
            factory="service.remote.runtime:load",
            description="a model on an Open Inference Protocol server (REST or gRPC)",
        ),
        Runtime(
            "PYTHON",
            proto_number=6,
            extensions=(),  # its artifact, if any, is the handler's own data
            factory="service.runtimes.python_handler:load",
            description="Python handlers named by the descriptor, from allowed modules only",
        ),
    )
)
