"""PYTHON models loaded from allowed modules only: both forms answer as the handler itself
does, the allow-list is checked before anything is imported, and whatever a descriptor names
(any handler text, any metadata) fails a load only as a refusal or a load failure."""

from __future__ import annotations

import json
import platform
import re
import sys
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.control.loader import warm_up
from service.errors import DescriptorRejectedError, ModelLoadError
from service.inputs.conversion import typed_batch
from service.inputs.schema import InputSchema, InputSpec
from service.runtimes import python_handler
from service.runtimes.answers import publishable_results
from service.runtimes.python_handler import handler_allowed, load
from service.serving.descriptor import HANDLER_PATTERN
from service.wine import WINE_FIELDS
from tests.runtimes.handlers import jet_style, jet_text, wine_rules
from tests.runtimes.python_handler_helpers import HANDLERS, request, wine_batch, wines
from tests.strategies import json_values


def answers(model: Any, batch: Any) -> list[Any]:
    """What the service would publish for each row: the result object, or the refusal."""
    rows = publishable_results(model.predict(batch), model.runtime)
    return [orjson.loads(r) if isinstance(r, bytes) else r for r in rows]


def test_a_factory_handler_answers_as_the_handler_itself() -> None:
    model = load(
        request(
            f"{HANDLERS}.wine_rules:make", inputs=WINE_FIELDS, metadata={"alcohol_threshold": 10}
        )
    )
    try:
        assert warm_up(model).describe() == "classifier of ['good', 'plain']"
        own = wine_rules.make(None, {"alcohol_threshold": 10}).predict(pd.DataFrame(wines(60)))
        assert answers(model, wine_batch(60)) == own
        assert {row["label"] for row in own} == {"good", "plain"}  # both classes are seen
        version = f"{platform.python_version()}, {HANDLERS}.wine_rules 1.2.0"
        assert str(model.runtime) == f"python {version}"
    finally:
        model.close()

    regressor = load(request(f"{HANDLERS}.wine_rules:regressor", inputs=WINE_FIELDS))
    result = regressor.predict(wine_batch(20))
    assert result.kind == "regressor"
    own = wine_rules.Quality().predict(pd.DataFrame(wines(20)))
    assert answers(regressor, wine_batch(20)) == own
    regressor.close()


def jet_batch(colours: list[str]) -> Any:
    schema = InputSchema((InputSpec("alcohol"), InputSpec("pH"), InputSpec("colour", "string")))
    rows = [{"alcohol": 9.0 + i, "pH": 3.25, "colour": c} for i, c in enumerate(colours)]
    return typed_batch(schema, rows), rows


@pytest.mark.parametrize(
    "handler", [f"{HANDLERS}.jet_style", f"{HANDLERS}.jet_style:transform_list"]
)
def test_a_transform_list_handler_answers_as_the_handler_itself(handler: str) -> None:
    model = load(request(handler))  # its inputs are the module's own input_schema
    assert model.input_schema.names == ["alcohol", "pH", "colour"]
    warm_up(model)
    for colours in (["red"] * 5, ["red", "white", "", "red"]):
        batch, rows = jet_batch(colours)
        own = [json.loads(t) for t in jet_style.transform_list([json.dumps(r) for r in rows])]
        got = answers(model, batch)
        if len(set(colours)) == 1:  # one kind: as given
            assert got == own
        else:  # rows of two kinds: each row's answer, as named outputs
            assert got == [{"outputs": answer} for answer in own]
    model.close()


def test_a_transform_list_answer_that_is_no_result_object_is_an_output() -> None:
    model = load(request(f"{HANDLERS}.jet_text", schema=InputSchema.numeric(["kind"], "integer")))
    batch = typed_batch(model.input_schema, [{"kind": k} for k in (0, 1, 2)])
    assert answers(model, batch) == [
        {"outputs": {"result": len('{"kind":0}')}},  # integers stay integers in the JSON
        {"outputs": {"result": ["kind"]}},
        {"outputs": {"result": "kind 2!"}},
    ]
    assert jet_text.transform_list(['{"kind": 2}']) == ["kind 2!"]
    model.close()


@pytest.mark.parametrize(
    ("handler", "allowed", "ok"),
    [
        ("acme", ["acme"], True),
        ("acme:make", ["acme"], True),
        ("acme.models:make", ["acme"], True),
        ("acme.models.deep.er", ["other", "acme"], True),
        ("acme.models:make", ["acme.models"], True),
        ("acme_evil:make", ["acme"], False),
        ("acme:make", ["acme.models"], False),  # a package's modules do not allow the package
        ("acme:make", [], False),
        ("acme:make", [""], False),
        ("acmex.y", ["acme"], False),
    ],
)
def test_the_allow_list_allows_its_modules_and_the_modules_inside_them(
    handler: str, allowed: list[str], ok: bool
) -> None:
    why = handler_allowed(handler, allowed)
    assert (why is None) == ok
    if why is not None:
        assert "MODELSERVE_PYTHON_HANDLERS" in why


@pytest.mark.parametrize("handler", ["", "acme:", ":make", "acme:a:b", "acme..x", "1acme", "a b"])
def test_a_handler_that_names_no_module_is_refused(handler: str) -> None:
    assert handler_allowed(handler, [handler, "acme"]) is not None
    with pytest.raises(DescriptorRejectedError):
        load(request(handler, allowed=["acme", handler]))


def test_the_handler_pattern_is_the_descriptors() -> None:
    assert f"^{python_handler._HANDLER.pattern}$" == HANDLER_PATTERN


@pytest.mark.parametrize("allowed", [(), (HANDLERS,), ("tests.runtimes.handlers.wine_rules",)])
def test_a_module_off_the_list_is_refused_and_never_imported(allowed: tuple[str, ...]) -> None:
    evil = "tests.runtimes.handlers_evil"
    assert evil not in sys.modules
    with pytest.raises(DescriptorRejectedError, match="MODELSERVE_PYTHON_HANDLERS"):
        load(request(f"{evil}:make", allowed=allowed))
    assert evil not in sys.modules


def test_a_callable_imported_into_an_allowed_module_is_refused() -> None:
    with pytest.raises(DescriptorRejectedError, match="defined in 'json'"):
        load(request(f"{HANDLERS}.reexport:loads", inputs=["a"]))


@pytest.mark.parametrize(
    ("handler", "extra", "why"),
    [
        ("broken_import:make", {}, "importing .* failed: ModuleNotFoundError"),
        ("no_such_module:make", {}, "ModuleNotFoundError"),
        ("wine_rules:no_such_factory", {}, "is not a callable"),
        ("wine_rules:__version__", {}, "is not a callable"),
        ("misbehaving:factory_raises", {}, "RuntimeError: no model in this artifact"),
        ("misbehaving:factory_exits", {}, r"raised SystemExit\(3\)"),
        ("misbehaving:no_predict", {}, "has no predict"),
        ("wine_rules:make", {"metadata": {"alcohol_threshold": "high"}}, "ValueError"),
        ("wine_rules:make", {"inputs": None}, "says nothing of its inputs"),
        ("jet_style", {"artifact": b"x"}, "takes no artifact"),
        ("wine_rules:make", {"schema": InputSchema((InputSpec("t", shape=(2,)),))}, "scalars"),
    ],
)
def test_a_handler_that_cannot_load_fails_the_load(
    handler: str, extra: dict[str, Any], why: str
) -> None:
    options: dict[str, Any] = {"inputs": WINE_FIELDS, **extra}
    with pytest.raises(ModelLoadError, match=why):
        load(request(f"{HANDLERS}.{handler}", **options))


def test_the_artifact_and_metadata_reach_the_factory() -> None:
    seen: dict[str, Any] = {}
    for artifact in (b"weights", None):
        model = load(
            request(
                f"{HANDLERS}.misbehaving:recorder",
                inputs=["a"],
                artifact=artifact,
                metadata={"seen": seen},
            )
        )
        assert seen["artifact"] == artifact
        model.close()


handler_texts = st.one_of(
    st.text(max_size=40),
    st.builds(
        "{}{}{}".format,
        st.sampled_from([HANDLERS, f"{HANDLERS}.", "tests.runtimes.handlers_evil", "os"]),
        st.sampled_from(
            ["", ".wine_rules", ".jet_style", ".misbehaving", ".broken_import", ".x", "_evil"]
        ),
        st.sampled_from(
            ["", ":make", ":regressor", ":transform_list", ":recorder", ":hangs", ":factory_exits"]
        )
        | st.from_regex(r":[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    handler=handler_texts,
    metadata=st.dictionaries(st.text(max_size=20), json_values(), max_size=4)
    | st.fixed_dictionaries({"alcohol_threshold": json_values()}),
    inputs=st.none() | st.just(["a"]),
)
def test_any_handler_and_metadata_fail_only_as_a_refusal_or_a_load_failure(
    handler: str, metadata: dict[str, Any], inputs: list[str] | None
) -> None:
    try:
        model = load(request(handler, metadata=metadata, inputs=inputs))
    except (DescriptorRejectedError, ModelLoadError):
        return
    assert re.fullmatch(python_handler._HANDLER, handler)
    assert handler.startswith(f"{HANDLERS}.")
    model.close()
    assert "tests.runtimes.handlers_evil" not in sys.modules
