"""The `modelserve route` command's arguments: model lists, weights, and the route they make,
refused in argparse's way (usage, one line, exit 2) when the service would refuse it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from service.tools.arguments import name_value_pairs

if TYPE_CHECKING:
    from service.routing.route_spec import RouteSpec


# Options that only mean something with one mode: given with another, they would be ignored.
_MODE_OPTIONS = {
    "primary": "shadow",
    "sample": "shadow",
    "combine": "ensemble",
    "deadline_ms": "speculative",
    "decider": "speculative",
}


def route_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RouteSpec | None:
    """The route the arguments declare; None for ``--remove``."""
    from service.tools.publishing import build_route

    for option, mode in _MODE_OPTIONS.items():
        if getattr(args, option) is not None and getattr(args, mode) is None:
            parser.error(f"--{option.replace('_', '-')} goes only with --{mode}")
    if args.remove:
        return None
    if args.shadow is not None and args.primary is None:
        parser.error("--shadow needs --primary")
    if args.speculative is not None and args.deadline_ms is None:
        parser.error("--speculative needs --deadline-ms")
    defaults = {
        k: v for k in ("sample", "combine", "decider") if (v := getattr(args, k)) is not None
    }
    try:
        return build_route(
            args.data_type,
            shadow=args.shadow,
            primary=args.primary,
            canary=args.canary,
            ensemble=args.ensemble,
            speculative=args.speculative,
            deadline_ms=args.deadline_ms,
            **defaults,
        )
    except ValueError as exc:
        parser.error(str(exc))


def model_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected model names separated by commas: {text!r}")
    return names


def model_weights(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for name, weight in name_value_pairs(text, "name=weight", "is weighted twice").items():
        try:
            weights[name] = float(weight)
        except ValueError:
            pair = f"{name}={weight}"
            raise argparse.ArgumentTypeError(f"expected name=weight pairs, got {pair!r}") from None
    return weights
