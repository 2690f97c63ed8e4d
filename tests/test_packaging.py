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


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions of the image's own stage (the last FROM on)."""
    start = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[start:]


def test_the_h2o_genmodel_jar_is_built_in_a_stage_of_its_own_from_the_peers_h2o() -> None:
    steps = dockerfile_instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert stages[0].endswith("AS h2o-genmodel") and len(stages) == 2
    assert any(w == "COPY" and "peers/h2o/requirements.lock" in r for w, r in steps)
    assert (ROOT / "peers/h2o/genmodel-jar").stat().st_mode & 0o111  # executable
    copied = [r for w, r in final_stage(steps) if w == "COPY" and "--from=h2o-genmodel" in r]
    jar = copied[0].split()[-1]
    env = dict(
        kv.split("=", 1)
        for kv in shlex.split(" ".join(r for w, r in final_stage(steps) if w == "ENV"))
    )
    assert env["MODELSERVE_H2O_GENMODEL_JAR"] == jar
    lock = (ROOT / "peers/h2o/requirements.lock").read_text()
    assert any(line.startswith("h2o==") for line in lock.splitlines())


def test_dockerfile_is_slim_python_with_a_jre_and_runs_as_non_root() -> None:
    steps = final_stage(dockerfile_instructions())
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


def test_the_image_and_make_install_include_the_reference_pmml_engine_and_tensorflow() -> None:
    """jpmml (AGPL-3.0) and tensorflow (1.3 GB) are optional extras, but the image and `make
    install` take them."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(req.startswith("jpmml-evaluator==") for req in extras["jpmml"])
    steps = dockerfile_instructions()
    assert ("ARG", 'EXTRAS="[jpmml,learn,tensorflow]"') in steps
    assert any(w == "RUN" and '".${EXTRAS}"' in r for w, r in steps)
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "-e '.[dev,jpmml,tensorflow]'" in install


def test_make_install_includes_tensorflow_pinned_in_the_lock() -> None:
    """TensorFlow is an optional extra (1.3 GB installed), which `make install` takes so that
    its runtimes are tested, at the version the lock pins."""
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
