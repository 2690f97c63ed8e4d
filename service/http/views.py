"""The HTTP contract's queryable state, encoded: ModelInfo (``/models``), a model's detail
(``/models/{name}``), the serving stats of a dataType (``/state/{dataType}``), the totals
(``/stats``) and the declared routes (``/routes``, ``/routes/{dataType}``). What they hold is
read in service/state/; this is only how they are written."""

from __future__ import annotations

from typing import Any

from service.metrics import Metrics
from service.routing.registry import Registry
from service.state import declared_routes, models, process, serving
from service.state.shapes import encode


def model_infos(registry: Registry) -> list[dict[str, Any]]:
    """Every name's ModelInfo, but those that cannot be shown (state/models.py)."""
    return [encode(info) for info in models.model_infos(registry)]


def model_info(registry: Registry, name: str, with_history: bool = False) -> dict[str, Any] | None:
    """The name's ModelInfo, with every version attempt under ``history`` if asked."""
    if with_history:
        detail = models.model_detail(registry, name)
        return encode(detail) if detail is not None else None
    info = models.model_info(registry, name)
    return encode(info) if info is not None else None


def serving_state(registry: Registry, data_type: str) -> dict[str, Any] | None:
    state = serving.serving_state(registry, data_type)
    return encode(state) if state is not None else None


def process_stats(metrics: Metrics, registry: Registry) -> dict[str, Any]:
    return encode(process.process_stats(metrics.totals, registry.serving_count()))


def all_routes(registry: Registry) -> list[dict[str, Any]]:
    return [encode(info) for info in declared_routes.all_routes(registry)]


def route_info(registry: Registry, data_type: str) -> dict[str, Any] | None:
    info = declared_routes.route_info(registry, data_type)
    return encode(info) if info is not None else None
