"""The house stays layered: every import inside ``service/`` points down the layers of
ARCHITECTURE.md, and never sideways between two units of one layer (the two planes, routing
and scoring, above all). Read from the source's own import statements, ``TYPE_CHECKING``
ones included, so a cycle cannot hide behind a type annotation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parent.parent / "service"

# Bottom to top. A unit is a package under service/ or a top-level module; units of one layer
# do not import each other. Keep in step with ARCHITECTURE.md.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer)
    for layer in (
        {"service", "errors", "untrusted", "logs", "gc_tuning", "wine", "proto", "clock"},
        {"security_settings"},
        {"settings", "parts"},
        {"inputs"},
        {"runtimes"},
        {"protobuf"},
        {"serving"},
        {"metrics"},
        {"routing", "scoring"},
        {"control", "state", "oip"},
        {"remote"},
        {"kafka"},
        {"cluster"},
        {"http", "grpc"},
        {"supervisor", "learning", "server"},
        {"tools"},
        {"__main__"},
    )
)


def layer_of(unit: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit in layer:
            return index
    raise AssertionError(f"service/{unit} is in no layer: add it to LAYERS and ARCHITECTURE.md")


def unit_of(module: str) -> str | None:
    """``service.routing.registry`` → ``routing``; None outside the service."""
    parts = module.split(".")
    if parts[0] != "service":
        return None
    return parts[1] if len(parts) > 1 else "service"


def module_name(path: Path) -> str:
    relative = path.relative_to(SERVICE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import in the source. The service imports absolutely, so
    every arrow can be read from the text; a relative import is refused here."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"line {node.lineno}: a relative import; write it whole"
            found.append((node.lineno, node.module or ""))
    return found


def arrows() -> list[tuple[str, int, str, str]]:
    """(file, line, from unit, to unit) of every import between two units."""
    found = []
    for path in sorted(SERVICE.rglob("*.py")):
        source = unit_of(module_name(path))
        assert source is not None
        for line, module in imports_of(path.read_text(encoding="utf-8")):
            target = unit_of(module)
            if target is not None and target != source:
                found.append((str(path.relative_to(SERVICE.parent)), line, source, target))
    return found


def test_every_import_points_down_the_layers() -> None:
    wrong = [
        f"{file}:{line}: {source} (layer {layer_of(source)}) imports {target} "
        f"(layer {layer_of(target)})"
        for file, line, source, target in arrows()
        if layer_of(target) >= layer_of(source)
    ]
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p)) for p in SERVICE.rglob("*.py")}
    for unit in units:
        assert unit is not None
        layer_of(unit)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [("scoring", "routing", False), ("routing", "serving", True), ("routing", "control", False)],
)
def test_the_rule_itself(source: str, target: str, allowed: bool) -> None:
    """The check refuses a sideways and an upward arrow and lets a downward one through, so
    that a table edited into accepting everything would show here."""
    assert (layer_of(target) < layer_of(source)) is allowed


def test_imports_are_read_whole_and_in_type_checking_blocks() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import service.routing.registry\n"
        "if TYPE_CHECKING:\n"
        "    from service.scoring.engine import Engine\n"
    )
    units = [unit_of(module) for _, module in imports_of(source)]
    assert units == [None, "routing", "scoring"]
    with pytest.raises(AssertionError, match="relative import"):
        imports_of("from .registry import Registry\n")
