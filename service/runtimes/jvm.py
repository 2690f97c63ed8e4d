"""The JVM both PMML engines run in, hardened: a PMML document is untrusted input, and the
JVM's XML parsers must not fetch external DTDs, schemas or entities (XXE: file disclosure,
SSRF). These JAXP properties apply to every parser the JVM creates, including the ones
pmml4s (pypmml) and JAXB (JPMML) use."""

from __future__ import annotations

import threading
from collections.abc import Callable

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


def require_hardened(get_property: Callable[[str], object | None], engine: str) -> None:
    """Refuse PMML when the JVM was started (by other code in the process) without the
    hardening: parsing untrusted XML there could read files or reach the network."""
    if get_property("javax.xml.accessExternalDTD") != "":
        raise ModelLoadError(f"the {engine} JVM allows external entities; refusing to parse PMML")
