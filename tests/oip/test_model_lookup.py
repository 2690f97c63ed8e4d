"""Which model a request reaches, and the status when none answers: 404 for a model or a
version nobody published (or one that is gone), 503 for one that is still loading, so that a
client knows to try again; readiness false, not an error, for a known model not answering."""

from __future__ import annotations

import pytest

from service.oip.messages import OipError
from service.serving.descriptor import ModelDescriptor
from tests.models import ModelFiles
from tests.oip_helpers import served


def loading(name: str, version: int) -> ModelDescriptor:
    return ModelDescriptor.model_validate(
        {"name": name, "version": version, "dataType": name, "modelType": "ONNX", "data": b"x"}
    )


def status_of(call: object) -> int:
    assert callable(call)
    with pytest.raises(OipError) as refused:
        call()
    return refused.value.status


def test_a_model_still_loading_is_unavailable_and_an_unknown_one_not_found(
    model_files: ModelFiles,
) -> None:
    core = served(model_files)
    core.registry.begin_load(loading("slow", 1))
    inference = core.inference
    assert status_of(lambda: inference.find("slow")) == 503
    assert status_of(lambda: inference.metadata("slow")) == 503
    assert inference.model_ready("slow") is False
    assert status_of(lambda: inference.find("nobody")) == 404
    assert status_of(lambda: inference.model_ready("nobody")) == 404


def test_a_version_loading_beside_the_serving_one(model_files: ModelFiles) -> None:
    core = served(model_files)
    core.registry.begin_load(loading("rf", 5))
    inference = core.inference
    assert inference.find("rf").version == 4  # the serving version answers meanwhile
    assert status_of(lambda: inference.find("rf", "5")) == 503
    assert status_of(lambda: inference.find("rf", "6")) == 404
    assert inference.model_ready("rf", "5") is False
    assert inference.model_ready("rf", "4") is True


def test_a_retired_model_is_not_found(model_files: ModelFiles) -> None:
    core = served(model_files)
    core.registry.retire("lr")
    with pytest.raises(OipError, match="is not loaded") as refused:
        core.inference.find("lr")
    assert refused.value.status == 404
    assert core.inference.model_ready("lr") is False
