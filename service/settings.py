"""Service settings, read from the environment with the prefix ``MODELSERVE_``; how to reach a
secured Kafka is their base (security_settings.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from service.security_settings import KafkaSecurity
from service.untrusted import DEFAULT_MAX_JSON_DEPTH, MAX_JSON_DEPTH_LIMIT


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(KafkaSecurity):
    """Every knob of the service; each field is an environment variable ``MODELSERVE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODELSERVE_", extra="ignore", frozen=True)

    bootstrap_servers: str = Field("localhost:9092", description="Kafka bootstrap servers.")
    control_topic: str = Field("models", description="Topic of ModelDescriptors (key = name).")
    data_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["data"], description="Topics of records to score (comma list)."
    )
    output_topic: str = Field("predictions", description="Topic predictions are written to.")
    shadow_topic: str = Field(
        "", description="Topic of shadows' answers (default: the output topic + `.shadow`)."
    )
    shadow_timeout_ms: int = Field(
        5000,
        ge=1,
        le=600_000,
        description="Longest a batch waits for a shadow's answers before counting a timeout.",
    )
    dlq_topic: str = Field("data.dlq", description="Dead-letter topic for unscorable records.")
    events_topic: str = Field("model-events", description="Topic of model lifecycle events.")
    feedback_topic: str = Field("feedback", description="Topic of labelled records.")
    stats_topic: str = Field(
        "modelserve-stats",
        description="Compacted topic of every process's stats snapshot (key = instance).",
    )
    stats_interval_s: float = Field(
        5.0,
        ge=0.1,
        le=3600.0,
        description="Seconds between stats snapshots; a process unseen for 3 is departed.",
    )
    # The Open Inference Protocol on Kafka, as MLServer speaks it (kafka/oip_inference.py).
    oip_input_topic: str = Field(
        "mlserver-input",
        description=(
            "Topic of Open Inference Protocol requests, read in the data consumers' group "
            "(empty: not served)."
        ),
    )
    oip_output_topic: str = Field(
        "mlserver-output", description="Topic Open Inference Protocol answers are written to."
    )
    group_id: str = Field("modelserve", description="Consumer group of the data consumers.")
    http_host: str = Field(
        "0.0.0.0", description="Address the HTTP server binds (the gRPC server too)."
    )
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    grpc_port: int = Field(
        8081,
        ge=0,
        le=65535,
        description=(
            "gRPC port of the Open Inference Protocol (0 turns gRPC off); under WORKERS=N every "
            "worker binds it (SO_REUSEPORT) and the kernel spreads the connections."
        ),
    )
    max_batch_size: int = Field(
        1000, ge=1, le=100_000, description="Most records scored in one model call."
    )
    max_batch_delay_ms: int = Field(
        10, ge=0, le=60_000, description="Longest a record waits for its batch to fill."
    )
    fetch_max_wait_ms: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Longest the broker holds a fetch with no data (bounds idle latency).",
    )
    commit_interval_ms: int = Field(
        100,
        ge=0,
        le=60_000,
        description="Longest acknowledged outputs wait for their offsets to be committed.",
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        le=300_000,
        description="Consumer-group session timeout: how soon a crashed replica's partitions move.",
    )
    rebalance_timeout_ms: int = Field(
        20_000,
        ge=1000,
        le=600_000,
        description="Longest a rebalance waits for members to rejoin.",
    )
    model_cache_dir: str = Field(
        "/tmp/modelserve-cache", description="Where artifacts fetched by reference are cached."
    )
    allowed_locations: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="URI prefixes `location` may point under (comma list)."
    )
    trusted_locations: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Location prefixes trusted as the service's own storage (comma list): a file or "
            "directory under one needs no sha256, and a relative location resolves against "
            "the first."
        ),
    )
    pickle_key: str | None = Field(
        None, description="HMAC key for signed pickles; without it PICKLE models are refused."
    )
    python_handlers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Modules (dotted names, comma list) whose callables PYTHON models may name as "
            "their handler, and the modules inside them; empty allows none."
        ),
    )
    python_handler_timeout_s: float = Field(
        30.0, gt=0, description="Longest one call of a PYTHON model's handler may take."
    )
    allowed_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Prefixes a REMOTE model's endpoint must be under (comma list; empty: none), "
            "redirects included."
        ),
    )
    remote_timeout_ms: int = Field(
        10_000, ge=1, le=600_000, description="Longest one call to a remote model's server."
    )
    remote_concurrency: int = Field(
        4, ge=1, le=256, description="Batches in flight to one remote endpoint at most."
    )
    remote_give_up_s: float | None = Field(
        None,
        gt=0,
        description=(
            "How long records wait for a remote model's server that does not answer before "
            "they are dead letters saying so; unset: they wait as long as it takes."
        ),
    )
    h2o_genmodel_jar: str | None = Field(
        None,
        description=(
            "H2O's genmodel classes for H2O MOJO models: h2o-genmodel.jar or h2o.jar; by "
            "default the one the `h2o` package ships, when installed."
        ),
    )
    default_data_type: str | None = Field(
        None, description="dataType of records that name none (field or `data-type` header)."
    )
    no_model_policy: Literal["dlq", "wait"] = Field(
        "dlq", description="What happens to records whose dataType has no serving model."
    )
    pmml_engine: Literal["auto", "jpmml", "pypmml"] = Field(
        "auto",
        description=(
            "PMML engine: jpmml (JPMML-Evaluator, the reference; the AGPL-3.0 extra "
            "modelserve[jpmml]), pypmml, or auto (jpmml when installed, else pypmml)."
        ),
    )
    learner_group_id: str = Field(
        "modelserve-learner", description="Consumer group of the learner's feedback consumer."
    )
    learner_http_port: int = Field(
        8090, ge=0, le=65535, description="HTTP port of `modelserve learn` (0 picks a free one)."
    )
    feedback_join_records: int = Field(
        1_000_000, ge=1, description="Data records kept for joining id-only feedback."
    )
    feedback_join_seconds: float = Field(
        3600.0, gt=0, description="How far back id-only feedback is joined to data records."
    )
    workers: int = Field(1, ge=1, le=64, description="Scoring processes per container.")
    worker_index: int | None = Field(
        None, ge=0, description="Set by the supervisor in each worker process; not for users."
    )
    worker_socket: str | None = Field(
        None, description="Set by the supervisor: the Unix socket a worker serves HTTP on."
    )
    replica_id: str | None = Field(
        None, description="Set by the supervisor: the instance its workers' snapshots name."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: str = Field("INFO", description="Root log level.")
    topic_partitions: int = Field(
        4, ge=1, le=1024, description="Partitions of data topics the service creates."
    )
    replication_factor: int = Field(
        1, ge=1, le=16, description="Replication factor of topics the service creates."
    )
    max_descriptor_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest control record accepted (bytes)."
    )
    control_compaction: bool = Field(
        True,
        description=(
            "Create the control topic compacted. Brokers refuse keyless records on a compacted "
            "topic: publishers that send none (Lightbend's client) need it false."
        ),
    )
    max_json_depth: int = Field(
        DEFAULT_MAX_JSON_DEPTH,
        ge=2,
        le=MAX_JSON_DEPTH_LIMIT,
        description=(
            "Deepest nesting of JSON accepted from outside (records, descriptors, routes, "
            "feedback, request bodies); deeper is refused before it is read."
        ),
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest HTTP request body (larger is answered 413) or gRPC request message "
            "(RESOURCE_EXHAUSTED) accepted, in bytes."
        ),
    )
    max_artifact_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Largest model artifact accepted (bytes)."
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="Longest a graceful stop waits for in-flight work."
    )
    data_failure_limit: int = Field(
        5,
        ge=1,
        le=1000,
        description=(
            "Failures of the data loop that a restart may not cure (bugs, not broker outages) "
            "within DATA_FAILURE_WINDOW_S that end the service (exit non-zero, not live); "
            "fewer are restarted with backoff."
        ),
    )
    data_failure_window_s: float = Field(
        600.0,
        gt=0,
        le=86_400.0,
        description="The window DATA_FAILURE_LIMIT counts the data loop's failures in.",
    )
    instance_id: str | None = Field(
        None, description="Name of this replica in events and logs (default: host:pid)."
    )

    @model_validator(mode="after")
    def _shadow_topic_default(self) -> Settings:
        if not self.shadow_topic:  # frozen: set once, here, as a default would be
            object.__setattr__(self, "shadow_topic", f"{self.output_topic}.shadow")
        return self

    @field_validator(
        "data_topics",
        "allowed_locations",
        "trusted_locations",
        "python_handlers",
        "allowed_endpoints",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)
