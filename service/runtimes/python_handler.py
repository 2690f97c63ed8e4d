"""PYTHON models: any Python, as Hazelcast Jet's ``mapUsingPython`` hosts it, named by the
descriptor's ``handler`` and imported from the modules the operator allows
(``MODELSERVE_PYTHON_HANDLERS``) only. Two forms (DOCS-python.md has examples of both):

- ``"module:factory"``: ``factory(artifact or None, metadata)`` is called once, at load, and
  returns an object whose ``predict(frame)`` takes the batch as a pandas DataFrame and answers
  a list of one result object per row, in the contract's shape; its ``close()``, if any, is
  called when the model leaves service.
- ``"module"`` or ``"module:transform_list"`` (Jet's): ``transform_list(items)`` takes each
  record as JSON text (its inputs, typed by the schema) and answers one text per item: a JSON
  object in the contract's result shape, or anything else, which is served as
  ``{"outputs": {"result": it}}``.

The allow-list is checked before anything is imported: a descriptor is data anyone with
write access to the control topic can publish, and importing a module runs its code. The
callable must also be defined in an allowed module, not merely imported into one (``acme``
doing ``from subprocess import run`` does not make ``acme:run`` a handler).

Each call runs on the model's own thread, bounded by ``MODELSERVE_PYTHON_HANDLER_TIMEOUT_S``
(runtimes/handler_thread.py), and never inline on the event loop (``runs_inline``)."""

from __future__ import annotations

import importlib
import platform
import re
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from service.errors import DescriptorRejectedError, ModelLoadError, sanitise
from service.inputs.schema import INPUT_TYPES, InputSchema, InputSpec, TypedBatch
from service.runtimes.base import BatchResult, RuntimeInfo
from service.runtimes.catalog import LoadRequest
from service.runtimes.handler_thread import HandlerError, HandlerThread, HandlerTimeoutError
from service.runtimes.pickle_inputs import dataframe
from service.runtimes.python_answers import batch_result, from_json_text, json_rows
from service.untrusted import preview

# The descriptor's pattern (serving/descriptor.py HANDLER_PATTERN; a test keeps them equal),
# checked again here: handler_allowed is for any caller, with any text.
_HANDLER = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?"
)
SETTING = "MODELSERVE_PYTHON_HANDLERS"
TRANSFORM_LIST = "transform_list"


def handler_allowed(handler: str, allowed: Sequence[str]) -> str | None:
    """Why ``handler`` may not be imported under the allow-list ``allowed`` (dotted module
    names), or None when it may: its module must be one of them or inside one (``acme``
    allows ``acme`` and ``acme.models``, never ``acme_evil``). Pure: imports nothing."""
    if _HANDLER.fullmatch(handler) is None:
        return f"handler {preview(handler, 80)} is not a module name, or module:callable"
    module = handler.partition(":")[0]
    if not allowed:
        return f"PYTHON handlers are refused: {SETTING} names no module"
    if any(module == root or module.startswith(root + ".") for root in allowed if root):
        return None
    shown = ", ".join(preview(root, 80) for root in allowed[:10])
    return f"handler {handler!r} is in none of the modules {SETTING} allows ({shown})"


def load(request: LoadRequest) -> PythonModel:
    handler = request.handler or ""
    allowed = request.options.python_handlers
    why = handler_allowed(handler, allowed)
    if why is not None:
        raise DescriptorRejectedError(why)
    thread = HandlerThread(handler, request.options.python_handler_timeout_s)
    try:
        return _load(request, handler, allowed, thread)
    except BaseException:
        thread.close()  # its thread ends (or, stuck in the handler, stays behind: a daemon)
        raise


def _load(
    request: LoadRequest, handler: str, allowed: Sequence[str], thread: HandlerThread
) -> PythonModel:
    module_name, _, name = handler.partition(":")
    timeout_s = request.options.python_handler_timeout_s
    # Importing runs the module's code, and the factory is the handler's own: both on the
    # handler's thread, bounded, so that a hang fails this load, not the control plane.
    try:
        module = thread.call(_imported, module_name)
    except HandlerTimeoutError:
        raise ModelLoadError(f"importing {module_name} took over {timeout_s:g} s") from None
    function = _defined_callable(module, name or TRANSFORM_LIST, handler, allowed)
    runtime = _runtime(handler, module)
    if (name or TRANSFORM_LIST) == TRANSFORM_LIST:
        if request.artifact_given:
            raise ModelLoadError(f"{handler} is a transform_list handler: it takes no artifact")
        schema = _schema(request, module, handler)
        return PythonModel(handler, schema, runtime, thread, transform_list=function)
    try:
        scorer = thread.call(
            function, request.artifact if request.artifact_given else None, dict(request.metadata)
        )
    except HandlerTimeoutError:
        raise ModelLoadError(f"{handler} did not return within {timeout_s:g} s") from None
    except HandlerError as exc:  # what the handler's thread made of a SystemExit, say
        raise ModelLoadError(str(exc)) from exc
    except (Exception, SystemExit) as exc:
        raise ModelLoadError(f"{handler} raised {type(exc).__name__}: {exc}") from exc
    try:
        if not callable(getattr(scorer, "predict", None)):
            raise ModelLoadError(f"{handler} returned {preview(scorer)}, which has no predict()")
        schema = _schema(request, scorer, handler)
        if any(spec.shape for spec in schema.inputs):
            raise ModelLoadError(f"{handler} takes a DataFrame, whose columns are scalars")
        _needs_pandas(handler)
    except ModelLoadError:
        thread.close(_closer(scorer))  # what the factory holds, freed on the handler's thread
        raise
    return PythonModel(handler, schema, runtime, thread, scorer=scorer)


class PythonModel:
    """A loaded handler of either form. Construct through ``load``, which checks the
    allow-list."""

    # A handler's call may take any time, and may hang: never on the event loop
    # (scoring/model_calls.py), whatever its recent calls took.
    runs_inline = False

    def __init__(
        self,
        handler: str,
        schema: InputSchema | None,
        runtime: RuntimeInfo,
        thread: HandlerThread,
        scorer: Any = None,
        transform_list: Callable[..., Any] | None = None,
    ) -> None:
        self._handler = handler
        self._schema = schema or InputSchema(())
        self._runtime = runtime
        self._thread = thread
        self._scorer = scorer
        self._transform_list = transform_list

    @property
    def input_schema(self) -> InputSchema:
        return self._schema

    @property
    def runtime(self) -> RuntimeInfo:
        return self._runtime

    def predict(self, batch: TypedBatch) -> BatchResult:
        """One handler call for the batch. A call that raises, times out, or answers other
        than one result per row raises (the engine then tries each row alone); a row answered
        in a wrong shape is that row's problem."""
        answers: Any
        if self._transform_list is not None:
            texts = self._thread.call(self._transform_list, json_rows(batch))
            answers = [from_json_text(t) for t in self._listed(texts, batch.size)]
        else:
            answers = self._listed(
                self._thread.call(self._scorer.predict, dataframe(batch)), batch.size
            )
        return batch_result(answers, batch.size)

    def close(self) -> None:
        self._thread.close(_closer(self._scorer))
        self._scorer = self._transform_list = None

    def _listed(self, answers: object, size: int) -> list[Any]:
        if not isinstance(answers, list | tuple):
            raise HandlerError(
                f"{self._handler} answered {preview(answers)}, not a list of one result per row"
            )
        if len(answers) != size:
            raise HandlerError(f"{self._handler} answered {len(answers)} results for {size} rows")
        return list(answers)


def _closer(scorer: object) -> Callable[[], Any] | None:
    closer = getattr(scorer, "close", None)
    return closer if callable(closer) else None


def _imported(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # its import runs its code: anything may happen
        raise ModelLoadError(
            f"importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _defined_callable(
    module: ModuleType, name: str, handler: str, allowed: Sequence[str]
) -> Callable[..., Any]:
    """``module.name``, which must be callable and defined in an allowed module."""
    function = getattr(module, name, None)
    if function is None or not callable(function):
        shown = f"{module.__name__}:{name}"
        raise ModelLoadError(f"{shown} is not a callable of {module.__name__} ({handler})")
    home = getattr(function, "__module__", None)
    if not isinstance(home, str) or handler_allowed(home, allowed) is not None:
        raise DescriptorRejectedError(
            f"{module.__name__}:{name} is defined in {preview(home)}, which {SETTING} "
            "does not allow: a handler is defined in an allowed module, not imported into one"
        )
    return function  # type: ignore[no-any-return]


def _schema(request: LoadRequest, owner: object, handler: str) -> InputSchema:
    """The descriptor's ``schema``, else its ``inputs`` (numbers), else what the handler
    (the object, or the module of a transform_list) says in its ``input_schema``."""
    if request.schema is not None:
        return request.schema
    if request.inputs:
        return InputSchema.numeric(request.inputs)
    own = getattr(owner, "input_schema", None)
    if own is None:
        raise ModelLoadError(
            f"{handler} says nothing of its inputs: give the descriptor's `schema` or "
            "`inputs`, or an `input_schema` on the handler"
        )
    return _own_schema(own, handler)


def _own_schema(own: object, handler: str) -> InputSchema:
    """A handler's ``input_schema``: an InputSchema, or a list of names (numbers) or of
    ``{"name": ..., "type": ...}`` objects, as the descriptor's ``schema`` writes them."""
    if isinstance(own, InputSchema):
        return own
    specs: list[InputSpec] = []
    if isinstance(own, list | tuple):
        for item in own:
            if isinstance(item, str) and item:
                specs.append(InputSpec(item))
            elif (
                isinstance(item, Mapping)
                and isinstance(item.get("name"), str)
                and item["name"]
                and item.get("type", "double") in INPUT_TYPES
                and set(item) <= {"name", "type"}
            ):
                specs.append(InputSpec(item["name"], item.get("type", "double")))
            else:
                specs = []
                break
    names = [spec.name for spec in specs]
    if not specs or len(set(names)) != len(names):
        raise ModelLoadError(
            f"{handler}'s input_schema is {preview(own)}: a list of distinct names, or of "
            '{"name": ..., "type": ...} objects, is expected'
        )
    return InputSchema(tuple(specs))


def _needs_pandas(handler: str) -> None:
    try:
        import pandas  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(
            f"{handler} takes a pandas DataFrame: install pandas (modelserve[learn])"
        ) from exc


def _runtime(handler: str, module: ModuleType) -> RuntimeInfo:
    """Python's version, and the handler module's own when it says (``__version__``)."""
    version = platform.python_version()
    own = getattr(module, "__version__", None)
    if isinstance(own, str):
        version = f"{version}, {module.__name__} {sanitise(own, 40)}"
    return RuntimeInfo("python", version, f"the handler {handler} answered so: fix it there")
