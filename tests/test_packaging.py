"""The Dockerfile and docker-compose.yml cannot be run here (no Docker engine), so they are
parsed and checked against the settings they configure."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_slim_python_with_a_jre_and_runs_as_non_root() -> None:
    steps = dockerfile_instructions()
    words = [w for w, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    assert any(w == "RUN" and "jre-headless" in r for w, r in steps)
    assert any(w == "RUN" and "requirements.lock" in r for w, r in steps)
    user = [r for w, r in steps if w == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")
    assert ("ENTRYPOINT", '["modelserve"]') in steps
    expose = " ".join(r for w, r in steps if w == "EXPOSE").split()
    env = dict(kv.split("=", 1) for kv in shlex.split(" ".join(r for w, r in steps if w == "ENV")))
    ports = [env["MODELSERVE_HTTP_PORT"], env["MODELSERVE_GRPC_PORT"]]
    defaults = [str(Settings.model_fields[f].default) for f in ("http_port", "grpc_port")]
    assert expose == ports == defaults
    assert any(w == "HEALTHCHECK" and "/health/live" in r for w, r in steps)
    for _, rest in steps:
        for name in (
            kv.split("=", 1)[0] for kv in shlex.split(rest) if kv.startswith("MODELSERVE_")
        ):
            assert name.removeprefix("MODELSERVE_").lower() in Settings.model_fields, name


def test_compose_runs_kafka_in_kraft_mode_and_the_service_against_it() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    kafka, app = services["kafka"], services["modelserve-1"]
    assert kafka["image"].startswith("apache/kafka:")
    kenv = kafka["environment"]
    assert set(kenv["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "healthcheck" in kafka and "healthcheck" in app
    assert app["build"] == "."
    assert app["depends_on"]["kafka"]["condition"] == "service_healthy"
    env = app["environment"]
    for name in env:
        assert name.startswith("MODELSERVE_")
        assert name.removeprefix("MODELSERVE_").lower() in Settings.model_fields, name
    host, port = env["MODELSERVE_BOOTSTRAP_SERVERS"].split(":")
    assert f"PLAINTEXT://{host}:{port}" in kenv["KAFKA_ADVERTISED_LISTENERS"]
    http_port, grpc_port = env["MODELSERVE_HTTP_PORT"], env["MODELSERVE_GRPC_PORT"]
    # modelserve-2 is on the host's next ports.
    assert {f"{http_port}:{http_port}", f"{grpc_port}:{grpc_port}"} == set(app["ports"])
    assert "/health/ready" in " ".join(app["healthcheck"]["test"])
    # The compose values must be accepted by the settings model itself.
    settings = Settings(**{k.removeprefix("MODELSERVE_").lower(): v for k, v in env.items()})
    assert settings.data_topics == ["data"]


def test_compose_runs_a_learner_whose_command_and_settings_the_cli_accepts() -> None:
    from service.tools.cli import build_parser

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    learner = compose["services"]["learner"]
    assert learner["build"] == "." and learner["command"][0] == "learn"
    args = build_parser().parse_args(learner["command"])
    assert args.name == "wine-online" and len(args.inputs.split(",")) == 11
    env = learner["environment"]
    settings = Settings(**{k.removeprefix("MODELSERVE_").lower(): v for k, v in env.items()})
    port = settings.learner_http_port
    assert f"{port}:{port}" in learner["ports"]
    assert f":{port}/health" in " ".join(learner["healthcheck"]["test"])
    assert "learn" in next(r for w, r in dockerfile_instructions() if w == "ARG")


def test_the_image_and_make_install_include_the_reference_pmml_engine() -> None:
    """jpmml is an optional extra (AGPL-3.0), but the image and `make install` take it."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(req.startswith("jpmml-evaluator==") for req in extras["jpmml"])
    steps = dockerfile_instructions()
    assert ("ARG", 'EXTRAS="[jpmml,learn]"') in steps
    assert any(w == "RUN" and '".${EXTRAS}"' in r for w, r in steps)
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "-e '.[dev,jpmml,tensorflow]'" in install


def test_make_install_includes_tensorflow_pinned_in_the_lock() -> None:
    """TensorFlow is an optional extra (1.3 GB installed; the image leaves it out unless
    built with it in EXTRAS), which `make install` takes so that its runtimes are tested."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (pin,) = extras["tensorflow"]
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert pin.replace("tensorflow-cpu", "tensorflow_cpu") in lock or pin in lock


def test_the_package_ships_the_dashboard_page() -> None:
    """The page is package data: a wheel (the image installs one) carries it."""
    import tomllib
    from importlib.resources import files

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "http/static/*" in data["package-data"]["service"]
    static = files("service.http") / "static"
    for name in ("index.html", "dashboard.js", "dashboard.css"):
        assert (static / name).is_file(), name
