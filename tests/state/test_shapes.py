"""How a state document is written: JSON names in declaration order, nulls kept, but for the
fields a document leaves out when it has nothing to say."""

from __future__ import annotations

from pydantic import Field

from service.state.shapes import OpenShape, Shape, absent, encode


class Example(Shape):
    first_name: str = Field(alias="firstName")
    kept: int | None = None
    optional: str | None = Field(None, exclude_if=absent)


class Open(OpenShape):
    name: str


def test_json_names_in_order_nulls_kept_and_absent_fields_left_out() -> None:
    assert list(encode(Example(first_name="a"))) == ["firstName", "kept"]
    assert encode(Example(first_name="a", optional="x")) == {
        "firstName": "a",
        "kept": None,
        "optional": "x",
    }
    assert encode(Example(first_name="a"), exclude={"kept"}) == {"firstName": "a"}


def test_unknown_keys_are_passed_over_or_kept_as_they_came() -> None:
    assert encode(Example.model_validate({"firstName": "a", "new": 1})) == {
        "firstName": "a",
        "kept": None,
    }
    assert encode(Open.model_validate({"name": "a", "new": [1]})) == {"name": "a", "new": [1]}
