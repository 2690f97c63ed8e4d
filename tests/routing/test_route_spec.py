"""The route message alone: what parses, and every way one is refused with its reason."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.routing.route_spec import (
    CanarySpec,
    EnsembleSpec,
    RouteRejectedError,
    ShadowSpec,
    SpeculativeSpec,
    is_route_key,
    parse_route,
    route_key,
)
from service.runtimes.base import AnswerShape


def parse(value: dict[str, Any], data_type: str = "wine") -> object:
    body = {"kind": "route", "dataType": data_type, **value}
    return parse_route(route_key(data_type).encode(), orjson.dumps(body))


def test_each_mode_parses_with_its_defaults() -> None:
    shadow = parse({"mode": "shadow", "primary": "a", "shadows": ["b", "c"]})
    assert isinstance(shadow, ShadowSpec) and shadow.names == ("a", "b", "c")
    assert shadow.sample == 1.0
    canary = parse({"mode": "canary", "weights": {"a": 90, "b": 10}})
    assert isinstance(canary, CanarySpec) and canary.names == ("a", "b")
    ensemble = parse({"mode": "ensemble", "members": ["a", "b", "c"]})
    assert isinstance(ensemble, EnsembleSpec) and ensemble.combine == "vote"
    speculative = parse({"mode": "speculative", "candidates": ["slow", "fast"], "deadlineMs": 20})
    assert isinstance(speculative, SpeculativeSpec) and speculative.decider == "first-listed"
    # What is published is what is read back (by alias, nothing invented).
    assert orjson.loads(speculative.to_json()) == {
        "kind": "route",
        "dataType": "wine",
        "mode": "speculative",
        "candidates": ["slow", "fast"],
        "deadlineMs": 20,
        "decider": "first-listed",
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"mode": "mirror", "primary": "a"}, "unknown route mode 'mirror'"),
        ({"mode": "canary", "weights": {"a": 90, "b": 0}}, "weights must be positive"),
        ({"mode": "canary", "weights": {"a": -1}}, "weights must be positive"),
        ({"mode": "canary", "weights": {}}, "weights"),
        ({"mode": "shadow", "primary": "a", "shadows": ["a"]}, "both the primary and a shadow"),
        ({"mode": "shadow", "primary": "a", "shadows": ["b", "b"]}, "names a model twice"),
        ({"mode": "shadow", "primary": "a", "shadows": ["b"], "sample": 0}, "sample"),
        ({"mode": "ensemble", "members": ["a"]}, "members"),
        ({"mode": "ensemble", "members": ["a", "b"], "combine": "max"}, "combine"),
        ({"mode": "speculative", "candidates": ["a", "b"]}, "deadlineMs"),
        ({"mode": "speculative", "candidates": ["a", "b"], "deadlineMs": 0}, "deadlineMs"),
        ({"mode": "canary", "weights": {"route:b": 1}}, "weights"),
        ({"mode": "canary", "weights": {"b\n": 1}}, "weights"),
        ({"mode": "canary", "weights": {"a": 1}, "extra": 1}, "extra"),
    ],
)
def test_invalid_routes_are_rejected_with_the_reason(value: dict[str, Any], reason: str) -> None:
    with pytest.raises(RouteRejectedError, match=reason):
        parse(value)


def test_the_key_and_the_value_must_name_one_data_type() -> None:
    body = {"kind": "route", "dataType": "beer", "mode": "canary", "weights": {"a": 1}}
    with pytest.raises(RouteRejectedError, match="key names dataType 'wine'"):
        parse_route(b"route:wine", orjson.dumps(body))
    with pytest.raises(RouteRejectedError, match="not JSON"):
        parse_route(b"route:wine", b"{")
    assert is_route_key(b"route:wine") and not is_route_key(b"wine-rf") and not is_route_key(None)


CLASSIFIER = AnswerShape("classifier", ("5", "6", "7"))
OTHER_LABELS = AnswerShape("classifier", ("5", "6"))
LABELS_ONLY = AnswerShape("classifier", None)
REGRESSOR = AnswerShape("regressor")


def test_what_needs_the_members_loaded_is_checked_on_their_shapes() -> None:
    vote = parse({"mode": "ensemble", "members": ["a", "b"]})
    mean = parse({"mode": "ensemble", "members": ["a", "b"], "combine": "mean"})
    assert isinstance(vote, EnsembleSpec) and isinstance(mean, EnsembleSpec)
    assert vote.incompatibility({"a": CLASSIFIER, "b": CLASSIFIER}) is None
    # The same classes in another order are the same label set.
    reordered = AnswerShape("classifier", ("7", "5", "6"))
    assert vote.incompatibility({"a": CLASSIFIER, "b": reordered}) is None
    why = vote.incompatibility({"a": CLASSIFIER, "b": OTHER_LABELS})
    assert why is not None and "different label sets" in why
    assert "vote needs classifiers" in (
        vote.incompatibility({"a": REGRESSOR, "b": REGRESSOR}) or ""
    )
    assert mean.incompatibility({"a": REGRESSOR, "b": REGRESSOR}) is None
    assert "all be classifiers" in (mean.incompatibility({"a": REGRESSOR, "b": CLASSIFIER}) or "")
    assert "probabilities" in (mean.incompatibility({"a": CLASSIFIER, "b": LABELS_ONLY}) or "")
    assert vote.incompatibility({"a": CLASSIFIER, "b": LABELS_ONLY}) is None
    shadow = parse({"mode": "shadow", "primary": "a", "shadows": ["b"]})
    assert isinstance(shadow, ShadowSpec)
    assert "as its primary does" in (
        shadow.incompatibility({"a": CLASSIFIER, "b": REGRESSOR}) or ""
    )
    confident = parse(
        {
            "mode": "speculative",
            "candidates": ["a", "b"],
            "deadlineMs": 5,
            "decider": "most-confident",
        }
    )
    assert isinstance(confident, SpeculativeSpec)
    assert "probabilities" in (confident.incompatibility({"a": CLASSIFIER, "b": LABELS_ONLY}) or "")


SHAPES: list[AnswerShape | None] = [
    CLASSIFIER,
    OTHER_LABELS,
    LABELS_ONLY,
    REGRESSOR,
    AnswerShape("regressor", scalar=False),
    AnswerShape("outputs"),
    None,
]


@pytest.mark.parametrize(
    "value",
    [
        {"mode": "shadow", "primary": "a", "shadows": ["b"]},
        {"mode": "canary", "weights": {"a": 1, "b": 1}},
        {"mode": "ensemble", "members": ["a", "b"], "combine": "vote"},
        {"mode": "ensemble", "members": ["a", "b"], "combine": "mean"},
        {"mode": "speculative", "candidates": ["a", "b"], "deadlineMs": 5},
        {"mode": "speculative", "candidates": ["a", "b"], "deadlineMs": 5,
         "decider": "most-confident"},
    ],
    ids=lambda value: "-".join(str(v) for v in value.values() if isinstance(v, str)),
)  # fmt: skip
def test_a_route_says_truly_whether_its_check_looks_at_shapes(value: dict[str, Any]) -> None:
    """A replay loads the stand-ins such a route checks and only those (control/replay.py):
    one that said it does not look while it does would be let through blind."""
    spec = parse(value)
    assert isinstance(spec, ShadowSpec | CanarySpec | EnsembleSpec | SpeculativeSpec)
    verdicts = {spec.incompatibility({"a": a, "b": b}) for a in SHAPES for b in SHAPES}
    assert (verdicts != {None}) == spec.checks_shapes
    assert spec.checks_shapes == (value["mode"] != "canary")


def test_unknown_fields_and_too_many_members_are_refused_in_one_line() -> None:
    """Refused before validation builds an error per key or per member (a review measured
    1.5 GB for a route of a million unknown keys)."""
    many_keys = {"mode": "shadow", "primary": "a", "shadows": ["b"]} | {
        f"x{i}": i for i in range(100_000)
    }
    with pytest.raises(RouteRejectedError, match=r"unknown field\(s\) for a shadow route: 'x0'"):
        parse(many_keys)
    members = [f"m{i}" for i in range(65)]
    with pytest.raises(RouteRejectedError, match="at most 64"):
        parse({"mode": "ensemble", "members": members})
    assert isinstance(parse({"mode": "ensemble", "members": members[:64]}), EnsembleSpec)


def test_a_scores_model_votes_only_over_its_own_labels_and_never_counts_as_probabilities() -> None:
    """Lightbend's sigmoid net answers labels "0".."8" with scores: an ensemble vote with a
    quality classifier of labels "3".."8" would vote across two vocabularies; and scores are
    no probabilities to average or rank by."""
    scores = AnswerShape("classifier", tuple(str(i) for i in range(9)), scores=9)
    quality = AnswerShape("classifier", ("3", "4", "5", "6", "7", "8"))
    vote = parse({"mode": "ensemble", "members": ["net", "rf"]})
    assert isinstance(vote, EnsembleSpec)
    assert "different label sets" in (vote.incompatibility({"net": scores, "rf": quality}) or "")
    same = AnswerShape("classifier", tuple(str(i) for i in range(9)))
    assert vote.incompatibility({"net": scores, "rf": same}) is None
    mean = parse({"mode": "ensemble", "members": ["net", "rf"], "combine": "mean"})
    assert isinstance(mean, EnsembleSpec)
    assert mean.incompatibility({"net": scores, "rf": same}) == (
        "mean needs every member's probabilities"
    )
    race = parse(
        {"mode": "speculative", "candidates": ["net", "rf"], "deadlineMs": 5,
         "decider": "most-confident"}
    )  # fmt: skip
    assert isinstance(race, SpeculativeSpec)
    assert "most-confident needs" in (race.incompatibility({"net": scores, "rf": same}) or "")
