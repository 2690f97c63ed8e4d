"""The process's JVM, hardened, shared by every engine that runs in it through JPype
(JPMML-Evaluator, H2O's genmodel). A PMML document is untrusted input, and the JVM's XML
parsers must not fetch external DTDs, schemas or entities (XXE: file disclosure, SSRF). These
JAXP properties apply to every parser the JVM creates, including the ones pmml4s (pypmml,
its own JVM over Py4J) and JAXB (JPMML) use.

JPype allows one JVM per process, started once with its classpath: whichever engine loads a
model first starts it, with JPMML's jars on the classpath when jpmml-evaluator is installed;
jars known only at load time (H2O's genmodel) get a class loader of their own instead."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from service.errors import ModelLoadError

HARDENED_JAVA_OPTS = (
    "-Djavax.xml.accessExternalDTD=",
    "-Djavax.xml.accessExternalSchema=",
    "-Djavax.xml.accessExternalStylesheet=",
    "-Djdk.xml.entityExpansionLimit=2000",
    "-Djdk.xml.totalEntitySizeLimit=100000",
    "-Xss4m",
)

# A JVM is a per-process resource (pypmml keeps its gateway in a class attribute, JPype allows
# one JVM per process), so starting one is serialised process-wide: two models loading at
# once must not start two.
JVM_START_LOCK = threading.Lock()


def jpmml_classpath() -> list[str]:
    """JPMML-Evaluator's jars, as the package ships them; none when it is not installed."""
    if find_spec("jpmml_evaluator") is None:
        return []
    package = files("jpmml_evaluator")
    return sorted(
        str(jar)
        for folder in ("resources", "dependencies")
        for jar in package.joinpath(folder).iterdir()
        if jar.name.endswith(".jar")
    )


def require_hardened(get_property: Callable[[str], object | None], engine: str) -> None:
    """Refuse PMML when the JVM was started (by other code in the process) without the
    hardening: parsing untrusted XML there could read files or reach the network."""
    if get_property("javax.xml.accessExternalDTD") != "":
        raise ModelLoadError(f"the {engine} JVM allows external entities; refusing to parse PMML")


def start_jvm() -> None:
    """Start the process's JVM through JPype, hardened, unless it runs already (started here,
    or by other code: the PMML engine checks its hardening; a MOJO parses no XML)."""
    if find_spec("jpype") is None:
        raise ModelLoadError("JPype is not installed: pip install 'modelserve[jpmml]' or '[h2o]'")
    import jpype

    with JVM_START_LOCK:
        if not jpype.isJVMStarted():
            jpype.startJVM(*HARDENED_JAVA_OPTS, classpath=jpmml_classpath(), convertStrings=False)


def class_loader(locations: Sequence[Path]) -> Any:
    """A ``java.net.URLClassLoader`` over jars or class folders, child of the JVM's own
    loader: classes found only at load time, whichever engine started the JVM. The caller
    closes it (``close()``) when its classes are no longer used."""
    import jpype

    start_jvm()
    url = jpype.JClass("java.net.URL")
    # A folder's URL ends in "/": URLClassLoader reads any other URL as a jar.
    uris = [p.resolve().as_uri() + ("/" if p.is_dir() else "") for p in locations]
    urls = jpype.JArray(url)([url(uri) for uri in uris])
    parent = jpype.JClass("java.lang.ClassLoader").getSystemClassLoader()
    return jpype.JClass("java.net.URLClassLoader")(urls, parent)
