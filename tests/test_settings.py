import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_environment_with_prefix_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSERVE_DATA_TOPICS", "a, b,,c")
    monkeypatch.setenv("MODELSERVE_ALLOWED_LOCATIONS", "file:///models/,https://store/")
    monkeypatch.setenv("MODELSERVE_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("MODELSERVE_NO_MODEL_POLICY", "wait")
    s = Settings()
    assert s.data_topics == ["a", "b", "c"]
    assert s.allowed_locations == ["file:///models/", "https://store/"]
    assert (s.max_batch_size, s.no_model_policy) == (64, "wait")


def test_defaults_follow_the_contract() -> None:
    s = Settings()
    assert (s.bootstrap_servers, s.control_topic, s.data_topics) == (
        "localhost:9092",
        "models",
        ["data"],
    )
    assert (s.output_topic, s.dlq_topic, s.events_topic) == (
        "predictions",
        "data.dlq",
        "model-events",
    )
    assert (s.feedback_topic, s.group_id, s.http_port) == ("feedback", "modelserve", 8080)
    assert (s.no_model_policy, s.log_format, s.pickle_key) == ("dlq", "text", None)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSERVE_MAX_BATCH_SIZE", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_pmml_engine_is_auto_by_default_and_only_a_known_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().pmml_engine == "auto"
    monkeypatch.setenv("MODELSERVE_PMML_ENGINE", "pypmml")
    assert Settings().pmml_engine == "pypmml"
    monkeypatch.setenv("MODELSERVE_PMML_ENGINE", "pmml4s")
    with pytest.raises(ValidationError):
        Settings()


def test_the_data_loop_s_failure_limit_and_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """5 bugs in 10 minutes end the service unless told otherwise; at least one always does."""
    s = Settings()
    assert (s.data_failure_limit, s.data_failure_window_s) == (5, 600.0)
    monkeypatch.setenv("MODELSERVE_DATA_FAILURE_LIMIT", "2")
    monkeypatch.setenv("MODELSERVE_DATA_FAILURE_WINDOW_S", "60")
    s = Settings()
    assert (s.data_failure_limit, s.data_failure_window_s) == (2, 60.0)
    monkeypatch.setenv("MODELSERVE_DATA_FAILURE_LIMIT", "0")
    with pytest.raises(ValidationError):
        Settings()
