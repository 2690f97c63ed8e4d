"""The control rules alone, without a lifecycle: what a record is, the version a descriptor
gets and why one is refused; and that the state the lean replay folds them with (Versions.after)
is the state the registry keeps when their verdicts are carried out (Versions.of)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from service.control.descriptor import ControlLimits
from service.control.replay_actions import (
    EXPIRED,
    ControlRecord,
    Ignore,
    Load,
    Refuse,
    Retire,
    RouteRecord,
)
from service.control.rules import Versions, admit, read
from service.routing.registry import Registry
from service.routing.route_spec import route_key
from service.serving.descriptor import MAX_VERSION, ModelDescriptor
from tests.routing.stubs import Scaled

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LIMITS = ControlLimits(1 << 20)


def descriptor(version: int | None = None, **fields: Any) -> ModelDescriptor:
    doc = {"name": "m", "dataType": "d", "modelType": "ONNX", "data": "AA==", **fields}
    return ModelDescriptor.model_validate({**doc, "version": version})


def verdict(versions: Versions, version: int | None = None, **fields: Any) -> tuple[Any, ...]:
    """The verdict on a descriptor, as (kind, version, status, error)."""
    out = admit(descriptor(version, **fields), versions, NOW)
    if isinstance(out, Load):
        return ("load", out.descriptor.version)
    assert out.descriptor is not None
    return ("refuse", out.descriptor.version, out.status, out.error)


def test_what_a_record_is_before_any_state() -> None:
    route = orjson.dumps({"kind": "route", "dataType": "d", "mode": "canary", "weights": {}})
    key = route_key("d").encode()
    assert read(ControlRecord(key, route), LIMITS) == RouteRecord(key, route)
    assert read(ControlRecord(key, None), LIMITS) == RouteRecord(key, None)
    assert read(ControlRecord(b"m", None), LIMITS) == Retire("m")
    assert read(ControlRecord(None, None), LIMITS) == Ignore()
    unreadable = read(ControlRecord(b"m", b"{not json"), LIMITS)
    assert isinstance(unreadable, Refuse) and unreadable.descriptor is None
    assert (unreadable.name, unreadable.status) == ("m", "rejected")
    assert "not JSON" in unreadable.error
    body = orjson.dumps({"name": "m", "dataType": "d", "modelType": "ONNX", "data": "AA=="})
    read_one = read(ControlRecord(b"m", body), LIMITS)
    assert isinstance(read_one, ModelDescriptor) and read_one.version is None


def test_versions_default_to_one_more_and_older_ones_are_refused() -> None:
    assert verdict(Versions()) == ("load", 1)
    assert verdict(Versions(highest=1, serving=1)) == ("load", 2)
    # Highest seen, not serving: a version that failed or was refused still counts.
    assert verdict(Versions(highest=7, serving=2)) == ("load", 8)
    stale = verdict(Versions(highest=3, serving=3), 3)
    assert stale[:3] == ("refuse", 3, "rejected") and "not newer than serving version 3" in stale[3]
    assert verdict(Versions(highest=3, serving=3), 2, rollback=True) == ("load", 2)
    assert verdict(Versions(highest=3, serving=None), 2) == ("load", 2)  # nothing serves


def test_versions_stop_at_the_int64_limit_with_a_rejection() -> None:
    out = admit(descriptor(), Versions(MAX_VERSION, MAX_VERSION), NOW)
    assert isinstance(out, Refuse) and out.status == "rejected"
    assert out.descriptor is not None and out.descriptor.version is None
    assert out.error.startswith(f"no version is left after {MAX_VERSION}")


def test_expiry_is_judged_after_the_version_rule_at_the_instant_itself() -> None:
    assert verdict(Versions(), expiresAt=NOW.isoformat()) == ("refuse", 1, "expired", EXPIRED)
    soon = (NOW + timedelta(microseconds=1)).isoformat()
    assert verdict(Versions(), expiresAt=soon) == ("load", 1)
    # Stale and expired at once: the version rule speaks first.
    stale = verdict(Versions(5, 5), 4, expiresAt=NOW.isoformat())
    assert stale[2] == "rejected"


# One name's records: a version (left to default, or given, perhaps a rollback) that loads or
# not, or a tombstone.
steps = st.lists(
    st.one_of(
        st.tuples(st.none() | st.integers(1, 8), st.booleans(), st.booleans(), st.booleans()),
        st.just("tombstone"),
    ),
    max_size=25,
)


@given(steps)
def test_the_state_a_replay_folds_is_the_registrys(
    records: list[tuple[int | None, bool, bool, bool] | str],
) -> None:
    """Versions.after, verdict after verdict, against the registry the same verdicts are
    carried out on as ModelLifecycle does (a load begun, then installed or failed; a refusal
    recorded; a retirement)."""
    registry = Registry()
    versions = Versions()
    for record in records:
        if record == "tombstone":
            out: Load | Refuse | Retire = Retire("m")
            registry.retire("m")
            versions = versions.after(out)
        else:
            assert isinstance(record, tuple)
            version, rollback, expired, loads = record
            expires = (NOW - timedelta(seconds=1)).isoformat() if expired else None
            out = admit(descriptor(version, rollback=rollback, expiresAt=expires), versions, NOW)
            if isinstance(out, Load):
                registry.begin_load(out.descriptor)
                if loads:
                    registry.install(out.descriptor, Scaled(1.0), "0" * 64)
                else:
                    registry.fail("m", "failed", "not a model", out.descriptor)
            else:
                registry.fail("m", out.status, out.error, out.descriptor)
            versions = versions.after(out, loaded=loads)
        assert versions == Versions.of(registry.entry("m"))
