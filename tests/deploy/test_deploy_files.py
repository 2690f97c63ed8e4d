"""The compose deployment (docker-compose.yml, deploy/) without Docker: what it starts and
mounts, what Prometheus scrapes, how Grafana is provisioned, and that every metric the
dashboard queries is one a real service's ``GET /metrics`` exposes (a renamed metric would
otherwise leave a panel silently empty)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service.http.app import Health, create_app
from service.server import Service
from service.settings import Settings
from tests.routing.stubs import Threshold, declare, install, records

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
PROVISIONING = ROOT / "deploy/grafana/provisioning"
DASHBOARD = ROOT / "deploy/grafana/dashboards/modelserve.json"

REPLICAS = ("modelserve-1", "modelserve-2")
# Each replica's host ports: HTTP, then gRPC.
HOST_PORTS = {"modelserve-1": (8080, 8081), "modelserve-2": (8082, 8083)}
CONTAINER_PORT = 8080
GRPC_CONTAINER_PORT = 8081
DATASOURCE_UID = "prometheus"  # fixed in the datasource provisioning; the dashboard names it
METRIC = re.compile(r'(?<![\w"])modelserve_[a-z0-9_]*[a-z0-9]')


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


def services() -> dict[str, Any]:
    found = load_yaml(COMPOSE)["services"]
    assert isinstance(found, dict)
    return found


def environment(service: str) -> dict[str, Any]:
    env = services()[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return env


def mounts(service: str) -> dict[str, str]:
    """Bind mounts ``./host:/container[:ro]``: the container path of each host path."""
    found: dict[str, str] = {}
    for volume in services()[service].get("volumes", []):
        host, container, *_ = str(volume).split(":")
        found[host.removeprefix("./")] = container
    return found


def published(service: str) -> dict[int, int]:
    """Host port -> container port."""
    pairs = (str(p).split(":") for p in services()[service].get("ports", []))
    return {int(host): int(container) for host, container in pairs}


def depends_on(service: str) -> dict[str, Any]:
    found = services()[service].get("depends_on", {})
    return {name: {} for name in found} if isinstance(found, list) else dict(found)


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def data_panels() -> list[dict[str, Any]]:
    """Panels that query (a row only groups the panels below it)."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    """Every PromQL query of the dashboard: its panels' and its template variables'."""
    exprs = [t["expr"] for p in data_panels() for t in p["targets"] if t.get("expr")]
    exprs += [v["definition"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    return exprs


# -- docker-compose.yml ---------------------------------------------------------------------


def test_compose_starts_the_deployment() -> None:
    assert set(services()) == {"kafka", *REPLICAS, "learner", "prometheus", "grafana"}
    for name, service in services().items():
        # Compose reads `2` as a number and `true` as a boolean: quoted, the value is exact.
        for key, value in service.get("environment", {}).items():
            assert isinstance(value, str), f"{name}: {key} should be a quoted string"


def test_kafka_is_a_single_kraft_node() -> None:
    env = environment("kafka")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert not any("ZOOKEEPER" in key for key in env)
    assert "healthcheck" in services()["kafka"]


def test_two_replicas_share_one_group() -> None:
    envs = {name: environment(name) for name in REPLICAS}
    for name, env in envs.items():
        assert services()[name]["build"] == "."
        assert env["MODELSERVE_INSTANCE_ID"] == name
        assert env["MODELSERVE_WORKERS"] == "2"
        assert env["MODELSERVE_STATS_TOPIC"] == "modelserve-stats"
        assert env["MODELSERVE_STATS_INTERVAL_S"] == "5"
        assert env["MODELSERVE_HTTP_PORT"] == str(CONTAINER_PORT)
        assert env["MODELSERVE_GRPC_PORT"] == str(GRPC_CONTAINER_PORT)
        assert env["MODELSERVE_BOOTSTRAP_SERVERS"] == "kafka:9092"
        http, grpc = HOST_PORTS[name]
        assert published(name) == {http: CONTAINER_PORT, grpc: GRPC_CONTAINER_PORT}
        assert depends_on(name)["kafka"] == {"condition": "service_healthy"}
    # Apart from the instance id, the replicas are configured alike (one consumer group).
    first, second = (
        {k: v for k, v in e.items() if k != "MODELSERVE_INSTANCE_ID"} for e in envs.values()
    )
    assert first == second and first["MODELSERVE_GROUP_ID"] == "modelserve"
    assert len({e["MODELSERVE_INSTANCE_ID"] for e in envs.values()}) == len(REPLICAS)


def test_prometheus_and_grafana_services() -> None:
    prometheus, grafana = services()["prometheus"], services()["grafana"]
    # Pinned images: a `latest` would change the deployment under the provisioning files.
    assert re.fullmatch(r"prom/prometheus:v3\.\d+\.\d+", prometheus["image"])
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", grafana["image"])
    assert published("prometheus") == {9090: 9090}
    assert published("grafana") == {3000: 3000}
    assert set(depends_on("prometheus")) >= set(REPLICAS)
    assert "prometheus" in depends_on("grafana")
    for service in ("prometheus", "grafana"):
        for host in mounts(service):
            assert (ROOT / host).exists(), f"{service} mounts {host}, which is not in the repo"
    assert mounts("prometheus") == {
        "deploy/prometheus/prometheus.yml": "/etc/prometheus/prometheus.yml"
    }
    env = environment("grafana")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


# -- Prometheus -----------------------------------------------------------------------------


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}


def targets(job: dict[str, Any]) -> list[str]:
    return [t for config in job["static_configs"] for t in config["targets"]]


def test_prometheus_scrapes_the_replicas_and_the_learner() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["global"]["scrape_interval"] == "5s"
    jobs = scrape_jobs()
    assert set(jobs) == {"modelserve", "learner"}
    assert targets(jobs["modelserve"]) == [f"{name}:{CONTAINER_PORT}" for name in REPLICAS]
    learner_port = environment("learner")["MODELSERVE_LEARNER_HTTP_PORT"]
    assert targets(jobs["learner"]) == [f"learner:{learner_port}"]
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())


# -- Grafana provisioning -------------------------------------------------------------------


def test_grafana_provisioning() -> None:
    grafana = mounts("grafana")
    for kind in ("datasources", "dashboards"):
        assert grafana[f"deploy/grafana/provisioning/{kind}"] == f"/etc/grafana/provisioning/{kind}"
    (datasource,) = load_yaml(PROVISIONING / "datasources/prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus" and datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "http://prometheus:9090"  # the compose service and its port
    (provider,) = load_yaml(PROVISIONING / "dashboards/modelserve.yml")["providers"]
    # The provider reads the folder that compose mounts the dashboard JSON on.
    assert provider["type"] == "file"
    assert provider["options"]["path"] == grafana["deploy/grafana/dashboards"]
    home = environment("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


def test_dashboard_panels_query_the_provisioned_datasource() -> None:
    board = dashboard()
    assert board["uid"] == "modelserve" and board["schemaVersion"] >= 39
    panels = data_panels()
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert any(t.get("expr") for t in panel["targets"]), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", {"uid": DATASOURCE_UID})["uid"] == DATASOURCE_UID
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID


# What the issue asks the dashboard to show, each as a pattern one of its queries must match.
REQUIRED_QUERIES = {
    "records consumed per second": r"rate\(modelserve_records_consumed_total\b",
    "records scored per second": r"rate\(modelserve_records_scored_total\b",
    "scoring latency p50": r"histogram_quantile\(0\.5, .*modelserve_scoring_seconds_bucket",
    "scoring latency p95": r"histogram_quantile\(0\.95, .*modelserve_scoring_seconds_bucket",
    "scoring latency p99": r"histogram_quantile\(0\.99, .*modelserve_scoring_seconds_bucket",
    "batch size": r"modelserve_batch_size_bucket",
    "dead letters by reason": r"by \(reason\) \(rate\(modelserve_records_dead_lettered_total\b",
    "lag by partition": r"by \(topic, partition\) \(modelserve_consumer_lag\b",
    "total lag": r"^sum\(modelserve_consumer_lag\b",
    "model events by status": r"by \(status\) \(increase\(modelserve_model_events_total\b",
    "serving versions": r"modelserve_model_version\b",
    "shadow agreement": r"modelserve_shadow_agreement\b",
    "route records": r"modelserve_route_records_total\b",
    "inference requests by transport": (
        r"by \(protocol, outcome\) \(rate\(modelserve_inference_requests_total\b"
    ),
    "inference latency by transport": r"modelserve_inference_seconds_bucket",
}


@pytest.mark.parametrize("pattern", REQUIRED_QUERIES.values(), ids=REQUIRED_QUERIES.keys())
def test_dashboard_shows_what_the_issue_asks(pattern: str) -> None:
    assert any(re.search(pattern, expr) for expr in expressions())


# -- the dashboard's metrics against a real exposition ----------------------------------------


@pytest.fixture(scope="module")
async def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name of ``GET /metrics`` of a service built as ``serve`` builds
    it (its own collectors: routes, model versions), never started (no broker), after some
    traffic: a labelled family shows no sample until its first labels are used."""
    settings = Settings(
        bootstrap_servers="127.0.0.1:1",
        http_port=0,
        model_cache_dir=str(tmp_path_factory.mktemp("cache")),
    )
    service = Service(settings)
    registry, metrics, engine = service.registry, service.metrics, service.engine
    for name, data_type in (("a", "d"), ("b", "d"), ("c", "e"), ("c2", "e"), ("f1", "f")):
        install(registry, name, Threshold(), data_type=data_type)
    install(registry, "f2", Threshold(shift=1), data_type="f")
    declare(registry, "d", mode="shadow", primary="a", shadows=["b"])
    declare(registry, "e", mode="canary", weights={"c": 1, "c2": 1})
    declare(registry, "f", mode="speculative", candidates=["f1", "f2"], deadlineMs=5000)
    scored = await engine.score_stream(records(0, 1, 2))
    for side in scored.sides:
        await side
    await engine.score(records(*range(10), data_type="e"))
    await engine.score(records(1, 2, data_type="f"))
    metrics.record_consumed("data", 15)
    metrics.record_dead_letter("no-model")
    metrics.record_inference("grpc", "ok", 0.002)
    metrics.consumer_lag.labels("data", "0").set(3)
    remote = service.endpoints.metrics
    assert remote is not None  # the service's endpoint book counts on its registry
    remote.calls.labels("http://mlserver:8080", "ok").inc()
    remote.seconds.labels("http://mlserver:8080").observe(0.01)
    remote.up.labels("http://mlserver:8080").set(1)
    app = create_app(registry, metrics, engine, Health(lambda: True, lambda: {}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    # Sample names only: Prometheus stores `x_total`, `x_bucket`, ..., never a counter's or a
    # histogram's family name, so a query of the family name would draw nothing.
    families = text_string_to_metric_families(answer.text)
    return {sample.name for family in families for sample in family.samples}


def test_every_metric_the_dashboard_queries_is_exposed(exposed: set[str]) -> None:
    queried = {name for expr in expressions() for name in METRIC.findall(expr)}
    assert len(queried) >= 15  # the regex found the dashboard's metrics, not nothing
    assert sorted(queried - exposed) == []
