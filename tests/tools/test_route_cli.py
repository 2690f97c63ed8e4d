"""`modelserve route`: the route built from the command line is the one the service accepts,
refused in argparse's way (one line, exit 2) when the service would refuse it; and what it
puts on the control topic."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.kafka.control_publisher import control_publisher
from service.kafka.topics import ensure_topics
from service.routing.route_spec import parse_route, route_key
from service.tools.cli import build_parser, main
from service.tools.publishing import build_route
from tests.kafka_helpers import isolated_settings, read_until

WINE = {"kind": "route", "dataType": "wine"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"shadow": ["b"], "primary": "a"},
            {"mode": "shadow", "primary": "a", "shadows": ["b"], "sample": 1.0},
        ),
        (
            {"shadow": ["b", "c"], "primary": "a", "sample": 0.25},
            {"mode": "shadow", "primary": "a", "shadows": ["b", "c"], "sample": 0.25},
        ),
        ({"canary": {"a": 90, "b": 10}}, {"mode": "canary", "weights": {"a": 90, "b": 10}}),
        (
            {"ensemble": ["a", "b", "c"]},
            {"mode": "ensemble", "members": ["a", "b", "c"], "combine": "vote"},
        ),
        (
            {"ensemble": ["a", "b"], "combine": "mean"},
            {"mode": "ensemble", "members": ["a", "b"], "combine": "mean"},
        ),
        (
            {"speculative": ["slow", "fast"], "deadline_ms": 20},
            {
                "mode": "speculative",
                "candidates": ["slow", "fast"],
                "deadlineMs": 20,
                "decider": "first-listed",
            },
        ),
        (
            {"speculative": ["slow", "fast"], "deadline_ms": 20, "decider": "most-confident"},
            {
                "mode": "speculative",
                "candidates": ["slow", "fast"],
                "deadlineMs": 20,
                "decider": "most-confident",
            },
        ),
    ],
)
def test_build_route_gives_the_json_the_service_reads(
    options: dict[str, Any], expected: dict[str, Any]
) -> None:
    route = build_route("wine", **options)
    assert orjson.loads(route.to_json()) == WINE | expected
    assert parse_route(route_key("wine").encode(), route.to_json()) == route


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"canary": {"a": -5, "b": 10}}, "weights must be positive"),
        ({"ensemble": ["a", "b"], "combine": "median"}, "combine: Input should be 'vote'"),
        ({"ensemble": ["a"]}, "members: List should have at least 2 items"),
        ({"shadow": ["b"]}, "a shadow route needs its primary"),
        ({"shadow": ["a"], "primary": "a"}, "'a' is both the primary and a shadow"),
        ({"speculative": ["a", "b"]}, "a speculative route needs its deadline"),
        ({"speculative": ["a", "b"], "deadline_ms": 0}, "deadlineMs: Input should be greater"),
        ({}, "exactly one mode"),
        ({"canary": {"a": 1}, "ensemble": ["a", "b"]}, "got canary, ensemble"),
    ],
)
def test_build_route_refuses_what_the_service_would(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_route("wine", **options)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--shadow", "b,c", "--primary", "a", "--sample", "0.5"],
            {"shadow": ["b", "c"], "primary": "a", "sample": 0.5},
        ),
        (["--canary", "a=90, b=10"], {"canary": {"a": 90.0, "b": 10.0}}),
        (["--ensemble", "a,b,c", "--combine", "mean"], {"ensemble": ["a", "b", "c"]}),
        (
            ["--speculative", "slow,fast", "--deadline-ms", "20", "--decider", "most-confident"],
            {"speculative": ["slow", "fast"], "deadline_ms": 20, "decider": "most-confident"},
        ),
        (["--remove", "--wait", "--timeout", "5"], {"remove": True, "wait": True, "timeout": 5.0}),
    ],
)
def test_the_parser_reads_each_form(argv: list[str], expected: dict[str, Any]) -> None:
    args = build_parser().parse_args(["route", "wine", *argv])
    assert args.data_type == "wine"
    assert {name: getattr(args, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--canary", "a=x"], "argument --canary: expected name=weight pairs, got 'a=x'"),
        (["--canary", "a"], "argument --canary: expected name=weight pairs, got 'a'"),
        (["--canary", "a=1,a=2"], "argument --canary: 'a' is weighted twice"),
        (["--canary", "a=-5,b=10"], "weights must be positive"),
        (["--ensemble", "a,,b"], "argument --ensemble: expected model names"),
        (["--ensemble", "a,b", "--combine", "median"], "invalid choice: 'median'"),
        (["--ensemble", "a"], "members: List should have at least 2 items"),
        (["--shadow", "b"], "--shadow needs --primary"),
        (["--speculative", "a,b"], "--speculative needs --deadline-ms"),
        (["--canary", "a=1", "--primary", "a"], "--primary goes only with --shadow"),
        (["--remove", "--deadline-ms", "5"], "--deadline-ms goes only with --speculative"),
        (["--canary", "a=1", "--ensemble", "a,b"], "not allowed with argument --canary"),
        ([], "one of the arguments --shadow --canary --ensemble --speculative --remove"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["route", "wine", *argv])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("modelserve route: error: ") and message in error[-1]
    assert not any("Traceback" in line for line in error)


async def test_a_route_and_its_removal_reach_the_control_topic(bootstrap: str) -> None:
    settings = isolated_settings(bootstrap)
    await ensure_topics(settings)
    async with control_publisher(settings) as publisher:
        declared = await publisher.publish_route(build_route("wine", canary={"a": 90, "b": 10}))
        removed = await publisher.remove_route("wine")
    records = await read_until(bootstrap, settings.control_topic, lambda r: len(r) >= 2)
    assert [(r.offset, r.key, r.value and orjson.loads(r.value)) for r in records] == [
        (declared, b"route:wine", WINE | {"mode": "canary", "weights": {"a": 90, "b": 10}}),
        (removed, b"route:wine", None),
    ]
