import base64
import hashlib

import orjson
import pytest

from service.control.descriptor import ControlLimits, parse_descriptor
from service.errors import DescriptorRejectedError
from service.serving.descriptor import ModelDescriptor

ARTIFACT = b"model-bytes"


def doc(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "wine-rf",
        "dataType": "wine",
        "modelType": "onnx",
        "data": base64.b64encode(ARTIFACT).decode(),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def parse(d: dict[str, object], key: bytes | None = b"wine-rf") -> ModelDescriptor:
    return parse_descriptor(key, orjson.dumps(d))


def test_valid_descriptor_decodes_fields() -> None:
    d = parse(
        doc(
            version=3,
            inputs=["a", "b"],
            labels=[3, 4],
            fieldMap={"a": "x"},
            expiresAt="2030-01-01T00:00:00Z",
            metadata={"auc": 0.9},
        )
    )
    assert d.model_type == "ONNX"
    assert d.data == ARTIFACT
    assert d.version == 3
    assert d.labels == ["3", "4"]
    assert d.field_map == {"a": "x"}
    assert d.expires_at is not None and d.expires_at.year == 2030
    assert d.metadata == {"auc": 0.9}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"name": None}, "name"),
        ({"dataType": None}, "dataType"),
        ({"name": "has\nnewline"}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": "route:wine"}, "name"),  # the prefix of route records' keys
        ({"name": ".."}, "name"),  # a dot segment: no path can name it
        ({"name": "ends-in-a-newline\n"}, "name"),  # Python's `$` matches before it
        ({"name": "line\u2028separator"}, "name"),
        ({"name": "zero\u200bwidth"}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"modelType": "CAFFE"}, "modelType"),
        ({"version": 0}, "version"),
        ({"data": "not base64!!"}, "base64"),
        ({"location": "file:///m.onnx"}, "data and location are exclusive"),
        ({"data": None}, "exactly one of data / location"),
        ({"handler": "acme:predict"}, "handler is required with modelType PYTHON, and only"),
        ({"modelType": "PYTHON", "data": None}, "handler is required"),
        ({"modelType": "PYTHON", "handler": "acme:no-dash"}, "handler"),
        ({"sha256": "abc"}, "sha256"),
        ({"expiresAt": "2030-01-01T00:00:00"}, "time zone"),
        ({"inputs": []}, "inputs"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_descriptors_are_rejected_with_the_field_named(
    overrides: dict[str, object], fragment: str
) -> None:
    with pytest.raises(DescriptorRejectedError) as info:
        parse(doc(**overrides), key=None)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["tensorflow saved model", "data/optimized_WineQuality", "Ünïcödé ✓", "x" * 256, "...", ".a"],
)
def test_names_are_any_printable_text_up_to_256_characters(name: str) -> None:
    assert parse(doc(name=name), key=name.encode()).name == name


def test_a_python_model_needs_no_artifact() -> None:
    d = parse(doc(modelType="python", data=None, handler="acme.models:load"))
    assert (d.model_type, d.handler, d.data, d.location) == (
        "PYTHON",
        "acme.models:load",
        None,
        None,
    )


def test_not_json_and_not_object_are_rejected() -> None:
    with pytest.raises(DescriptorRejectedError, match="not JSON"):
        parse_descriptor(b"k", b"{nope")
    with pytest.raises(DescriptorRejectedError, match="JSON object"):
        parse_descriptor(b"k", b"[1, 2]")


def test_key_must_match_name() -> None:
    with pytest.raises(DescriptorRejectedError, match="differs"):
        parse(doc(), key=b"other")


def test_size_limit() -> None:
    with pytest.raises(DescriptorRejectedError, match="exceeds"):
        parse_descriptor(b"wine-rf", orjson.dumps(doc()), limits=ControlLimits(max_bytes=10))


def test_rejection_text_is_sanitised_and_does_not_echo_input() -> None:
    with pytest.raises(DescriptorRejectedError) as info:
        parse(doc(name="evil\nname\x00" + "y" * 5000), key=None)
    text = str(info.value)
    assert "\n" not in text and "\x00" not in text
    assert len(text) <= 512
    assert "yyyyyyyyyy" not in text


def test_digest_is_checked_when_given() -> None:
    good = hashlib.sha256(ARTIFACT).hexdigest()
    assert parse(doc(sha256=good.upper())).verify_digest(ARTIFACT) == good
    with pytest.raises(DescriptorRejectedError, match="sha256 mismatch"):
        parse(doc(sha256="0" * 64)).verify_digest(ARTIFACT)


def test_wire_form_round_trips() -> None:
    original = parse(doc(version=2, inputs=["a"], metadata={"k": [1, 2]}))
    again = parse_descriptor(b"wine-rf", original.to_json())
    assert again == original


def test_unknown_fields_and_huge_lists_are_refused_before_validation_spends_on_them() -> None:
    many = doc() | {f"x{i}": i for i in range(100_000)}
    with pytest.raises(DescriptorRejectedError, match=r"unknown field\(s\) 'x0'"):
        parse(many)
    with pytest.raises(DescriptorRejectedError, match="inputs: List should have at most"):
        parse(doc(inputs=list(range(1_000_000))))
