"""What a TensorFlow graph may run. A GraphDef or SavedModel is a program, and TensorFlow has
ops that read and write files (``ReadFile``, ``WriteFile``, a SavedModel's ``main_op``), map
them into memory (``ImmutableConst``), call Python (``PyFunc``), stop the process (``Abort``)
or talk to other hosts: a model published by value, by anyone who can write the control
topic, must not run them. So before a graph is imported into a session, every op the service
would run is checked: the ops its answers depend on (and a SavedModel's init ops), followed
through their inputs, control inputs and the functions they call; a SavedModel's restore op,
which reads its own variables, may read a checkpoint and nothing else. Ops nothing runs (a
SavedModel's save subgraph) are not looked at."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.errors import ModelLoadError

# An op whose type holds one of these does I/O, calls out or stops the process: refused.
_REFUSED_PARTS = (
    "File",  # ReadFile, WriteFile, MatchingFiles, InitializeTableFromTextFile, ShardedFilename
    "Dataset",
    "Iterator",
    "Reader",  # TFRecordReader, FixedLengthRecordReader, ...
    "Writer",  # summary writers
    "Summary",
    "Save",
    "Restore",
    "Checkpoint",
    "PyFunc",  # PyFunc, EagerPyFunc, PyFuncStateless
    "Print",
    "Rpc",
    "Debug",  # DebugIdentity* dump tensors to files
    "Remap",  # LoadAndRemapMatrix reads a checkpoint
    "Vocab",  # GenerateVocabRemapping reads files
    "Profiler",
    "Collective",
)
_REFUSED = frozenset(("ImmutableConst", "Abort", "_Send", "_Recv", "_HostSend", "_HostRecv"))
# What a SavedModel's restore op may run beyond the rest: reading its own checkpoint.
RESTORE_OPS = frozenset(("RestoreV2", "Restore", "RestoreSlice"))


def refused(op: str, allowed: frozenset[str] = frozenset()) -> bool:
    if op in allowed:
        return False
    return op in _REFUSED or any(part in op for part in _REFUSED_PARTS)


def check_ops(
    nodes: Iterable[Any],
    functions: Iterable[Any],
    roots: Iterable[str],
    allowed: frozenset[str] = frozenset(),
    what: str = "the model",
) -> None:
    """Raise ModelLoadError naming the first refused op that running ``roots`` (node or
    tensor names, ``name:0`` or ``^name``) would run, in ``nodes`` (NodeDefs) or the
    ``functions`` (FunctionDefs) they call."""
    by_name = {node.name: node for node in nodes}
    library = {f.signature.name: f for f in functions}
    seen: set[str] = set()
    called: set[str] = set()
    pending = [_node_name(root) for root in roots]
    while pending:
        name = pending.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        node = by_name[name]
        _check(node, library, called, allowed, what)
        pending.extend(_node_name(i) for i in node.input)


def _check(
    node: Any, library: Mapping[str, Any], called: set[str], allowed: frozenset[str], what: str
) -> None:
    if refused(node.op, allowed):
        raise ModelLoadError(
            f"{what} runs the op {node.op} (node {node.name!r}), which reads or writes files, "
            "calls out of TensorFlow or stops the process: refused"
        )
    for function in _functions_of(node, library):
        if function in called:
            continue
        called.add(function)
        # A function's body is checked whole: what of it runs depends on its callers.
        for inner in library[function].node_def:
            _check(inner, library, called, allowed, what)


def _functions_of(node: Any, library: Mapping[str, Any]) -> list[str]:
    """The library functions a node calls: as its op, or named by its attributes."""
    names = [node.op] if node.op in library else []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names.extend(f.name for f in value.list.func)
    return [name for name in names if name in library]


def _node_name(reference: str) -> str:
    return reference.lstrip("^").split(":")[0]
