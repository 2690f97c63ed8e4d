"""The shapes the CLI's flags share: comma lists and ``name=value`` pairs."""

from __future__ import annotations

import argparse


def comma_list(text: str | None) -> list[str] | None:
    """``a, b,c`` as ``["a", "b", "c"]`` (empty parts dropped); None for no text."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def name_value_pairs(text: str, shape: str, twice: str) -> dict[str, str]:
    """``a=1,b=2`` as a dict. ``shape`` names the pairs in the error (``name=weight``);
    ``twice`` says a name given twice (``is weighted twice``)."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        name, equals, value = (side.strip() for side in part.partition("="))
        if not (name and equals and value):
            raise argparse.ArgumentTypeError(f"expected {shape} pairs, got {part!r}")
        if name in pairs:
            raise argparse.ArgumentTypeError(f"{name!r} {twice}")
        pairs[name] = value
    return pairs
