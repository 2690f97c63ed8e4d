"""Route records on the control topic (key ``route:<dataType>``): a JSON route declares the
dataType's route, a tombstone removes it, anything unreadable is rejected with the reason and
changes nothing. What became of the route is read back from the registry's route changes and
published as ``kind: route`` events by the lifecycle."""

from __future__ import annotations

from service.control.descriptor import ControlLimits
from service.routing.registry import Registry
from service.routing.route_spec import ROUTE_KEY_PREFIX, RouteRejectedError, parse_route
from service.serving.descriptor import MAX_DATA_TYPE_CHARS


def apply_route_record(
    registry: Registry, key: bytes, value: bytes | None, limits: ControlLimits
) -> None:
    data_type = key.decode("utf-8", errors="replace")[len(ROUTE_KEY_PREFIX) :]
    if len(data_type) > MAX_DATA_TYPE_CHARS:
        # No descriptor can serve such a dataType: refused under a name cut to the bound.
        registry.reject_route(
            data_type[:MAX_DATA_TYPE_CHARS] + "…",
            f"a dataType is at most {MAX_DATA_TYPE_CHARS} characters",
        )
        return
    if value is None:
        registry.remove_route(data_type)
        return
    if len(value) > limits.max_bytes:
        registry.reject_route(data_type, f"route of {len(value)} bytes exceeds {limits.max_bytes}")
        return
    try:
        spec = parse_route(key, value, limits.max_json_depth)
    except RouteRejectedError as exc:
        registry.reject_route(data_type, str(exc))
        return
    registry.declare_route(spec)
