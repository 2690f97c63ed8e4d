"""Where an H2O MOJO's scorer comes from: H2O's genmodel classes (``hex.genmodel``, Apache-2.0)
in a jar the deployment names (``MODELSERVE_H2O_GENMODEL_JAR``: h2o-genmodel.jar, h2o.jar, or
a jar of just the genmodel classes), or else the h2o.jar the ``h2o`` Python package ships; and
modelserve's batch scorer (``h2o_java/``), compiled beside its source. Both are loaded into
the process's JVM (jvm.py) through a class loader of their own, so that it does not matter
which engine started the JVM or with what classpath."""

from __future__ import annotations

import io
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from service.errors import ModelLoadError
from service.runtimes.jvm import class_loader

SETTING = "MODELSERVE_H2O_GENMODEL_JAR"
SCORER_CLASSES = Path(__file__).with_name("h2o_java")
SCORER_CLASS = "modelserve.h2o.BatchScorer"
# What every MOJO holds (H2O's ModelMojoReader reads it first).
MOJO_INI = "model.ini"


def genmodel_jar(configured: str | None) -> Path:
    """The jar named by the setting, else the ``h2o`` package's (found without importing
    ``h2o``, which would import its client and its dependencies into the service)."""
    if configured:
        jar = Path(configured)
        if not jar.is_file():
            raise ModelLoadError(f"{SETTING}={configured}: no such file")
        return jar
    spec = find_spec("h2o")
    if spec is not None and spec.origin:
        jar = Path(spec.origin).parent / "backend" / "bin" / "h2o.jar"
        if jar.is_file():
            return jar
    raise ModelLoadError(
        "H2O MOJOs need H2O's genmodel classes: set "
        f"{SETTING} to h2o-genmodel.jar or h2o.jar, or install the h2o package "
        "(pip install 'modelserve[h2o]')"
    )


def check_mojo(artifact: bytes) -> None:
    """A MOJO is a zip with a model.ini: anything else is refused before the JVM reads it."""
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ModelLoadError(f"not an H2O MOJO: not a zip archive ({exc})") from exc
    except Exception as exc:
        raise ModelLoadError(f"not an H2O MOJO: unreadable zip archive ({exc!r})") from exc
    if MOJO_INI not in names:
        raise ModelLoadError(f"not an H2O MOJO: the zip holds no {MOJO_INI}")


def scorer_class(jar: Path) -> tuple[Any, Any]:
    """(the BatchScorer class, its class loader), the loader over the genmodel jar and the
    scorer's classes; the caller closes the loader with its model."""
    import jpype

    loader = class_loader([SCORER_CLASSES, jar])
    try:
        return jpype.JClass(SCORER_CLASS, loader=loader), loader
    except Exception as exc:
        loader.close()
        raise ModelLoadError(f"{jar} does not hold H2O's genmodel classes: {exc}") from exc


def genmodel_version(loader: Any) -> str:
    """The H2O version of the genmodel classes: h2o.jar's build version, else the Maven
    metadata of h2o-genmodel.jar, else unknown."""
    import jpype

    try:
        build = jpype.JClass("water.init.AbstractBuildVersion", loader=loader)
        return str(build.getBuildVersion().projectVersion())
    except Exception:
        pass
    stream = loader.getResourceAsStream("META-INF/maven/ai.h2o/h2o-genmodel/pom.properties")
    if stream is not None:
        try:
            for line in bytes(stream.readAllBytes()).decode("latin-1").splitlines():
                if line.startswith("version="):
                    return line.partition("=")[2].strip()
        finally:
            stream.close()
    return "unknown"
