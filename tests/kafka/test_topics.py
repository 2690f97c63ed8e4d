"""The topics the service creates, and why their settings are what they are."""

from __future__ import annotations

from service.kafka.topics import OUTPUT_MAX_MESSAGE_BYTES, topic_configs, wanted_topics
from service.settings import Settings

BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 + 12


def test_outputs_take_the_largest_default_record_with_what_the_service_adds() -> None:
    """A data record at the broker's default limit comes back out as a dead letter carrying
    it whole (plus headers of at most a few KiB) or as a prediction carrying its id: the
    outputs must take it, or that one record is refused for ever and stops its partition."""
    settings = Settings(output_topic="out", dlq_topic="dead", shadow_topic="out.s")
    configs = topic_configs(settings)
    for topic in ("out", "dead", "out.s"):
        limit = int(configs[topic]["max.message.bytes"])
        assert limit == OUTPUT_MAX_MESSAGE_BYTES
        assert limit >= 2 * BROKER_DEFAULT_MAX_MESSAGE_BYTES + 16 * 1024


def test_the_control_topic_bounds_descriptors_and_is_compacted() -> None:
    settings = Settings(control_topic="ctl", max_descriptor_bytes=10_000)
    config = topic_configs(settings)["ctl"]
    assert config["max.message.bytes"] == str(10_000 + 1024)
    assert config["cleanup.policy"] == "compact" and config["retention.ms"] == "-1"
    # For publishers that send no key (Lightbend's client): nothing is ever deleted either.
    kept = topic_configs(Settings(control_topic="ctl", control_compaction=False))["ctl"]
    assert kept["cleanup.policy"] == "delete" and kept["retention.ms"] == "-1"
    assert kept["retention.bytes"] == "-1"


def test_the_open_inference_protocol_topics_are_made_as_the_data_and_output_topics() -> None:
    settings = Settings(oip_input_topic="oip-in", oip_output_topic="oip-out", topic_partitions=3)
    wanted = wanted_topics(settings)
    assert wanted["oip-in"] == wanted["oip-out"] == 3
    assert topic_configs(settings)["oip-out"]["max.message.bytes"] == str(OUTPUT_MAX_MESSAGE_BYTES)
    off = wanted_topics(Settings(oip_input_topic="", oip_output_topic="oip-out"))
    assert "oip-out" not in off and "" not in off
