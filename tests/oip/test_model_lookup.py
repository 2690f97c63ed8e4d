"""Which model a request reaches, and the status when none answers: 404 for a model or a
version nobody published (or one that is gone), 503 for one that is still loading, so that a
client knows to try again; readiness false, not an error, for a known model not answering."""

from __future__ import annotations

import pytest

from service.errors import ModelUnavailableError, NoModelError
from service.kafka.oip_inference import record_error
from service.oip.messages import ModelLoadingError, OipError
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


def test_the_serving_version_answers_while_it_is_published_again(
    model_files: ModelFiles,
) -> None:
    core = served(model_files)
    core.registry.begin_load(loading("rf", 4))  # a rollback to the version serving
    assert core.inference.find("rf", "4").version == 4
    assert core.inference.model_ready("rf", "4") is True


def test_a_version_nobody_published_is_not_found_while_another_loads(
    model_files: ModelFiles,
) -> None:
    core = served(model_files)
    core.registry.begin_load(loading("slow", 8))
    assert status_of(lambda: core.inference.find("slow", "7")) == 404
    assert status_of(lambda: core.inference.find("slow", "8")) == 503


def test_before_the_replay_is_over_an_unknown_name_may_be_loading(
    model_files: ModelFiles,
) -> None:
    """At start, the control topic's replay loads models with no history until each is in;
    readiness for other reasons (the data consumer's partitions) does not count."""
    assert status_of(lambda: served(model_files, ready=False).inference.find("nope")) == 404
    starting = served(model_files, replayed=False).inference
    assert status_of(lambda: starting.find("replaying")) == 503
    assert starting.model_ready("replaying") is False
    assert starting.find("rf").version == 4  # what is loaded already answers


def test_on_kafka_a_model_loading_is_a_no_model_dead_letter() -> None:
    assert isinstance(record_error(ModelLoadingError("loading")), NoModelError)
    assert isinstance(record_error(OipError(404, "unknown")), NoModelError)
    assert isinstance(record_error(OipError(503, "remote down")), ModelUnavailableError)
