"""XXE: a PMML document that reaches for a file or the network through its DTD must do
neither, with either PMML engine. Each case runs in a fresh process, since each engine keeps one
JVM per process and its options are fixed when it starts."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from tests.models import ModelFiles

PROBE = """
import sys, orjson
mode, pmml_path, out_path, port, secret = sys.argv[1:]
xml = open(pmml_path).read()
head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
net = "http://127.0.0.1:" + port
cases = {
    "file-entity": ('<!DOCTYPE PMML [<!ENTITY xxe SYSTEM "file://' + secret + '">]>', True),
    "network-entity": ('<!DOCTYPE PMML [<!ENTITY xxe SYSTEM "' + net + '/ent">]>', True),
    "parameter-entity": ('<!DOCTYPE PMML [<!ENTITY % r SYSTEM "' + net + '/dtd"> %r;]>', False),
    "external-dtd": ('<!DOCTYPE PMML SYSTEM "' + net + '/ext.dtd">', False),
}
results = {}
for name, (doctype, use) in cases.items():
    evil = xml.replace(head, '<?xml version="1.0" encoding="UTF-8"?>' + doctype, 1)
    if use:
        evil = evil.replace("<Header>", '<Header description="&xxe;">', 1)
    try:
        if mode == "pypmml":
            from service.runtimes.pmml import open_pmml
            model = open_pmml(evil.encode(), None, "pypmml")
            results[name] = "loaded: " + str(model._model.header.description)
        elif mode == "jpmml":
            from service.runtimes.pmml import open_pmml
            model = open_pmml(evil.encode(), None, "jpmml")
            pmml = model._evaluator.javaEvaluator.getPMML()
            results[name] = "loaded: " + str(pmml.getHeader().getDescription())
        elif mode == "plain-jpmml":
            from jpmml_evaluator import make_evaluator
            evaluator = make_evaluator(evil.encode())
            pmml = evaluator.javaEvaluator.getPMML()
            results[name] = "loaded: " + str(pmml.getHeader().getDescription())
        else:
            from pypmml import Model
            results[name] = "loaded: " + str(Model.fromString(evil).header.description)
    except Exception as exc:
        results[name] = "refused: " + str(exc)
open(out_path, "wb").write(orjson.dumps(results))
"""


class Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<!ENTITY inner 'from-the-network'>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()


def probe(mode: str, files: ModelFiles, tmp_path: Path, port: int) -> dict[str, str]:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    out = tmp_path / f"{mode}.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            mode,
            str(files.regressor_pmml),
            str(out),
            str(port),
            str(secret),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    results: dict[str, str] = orjson.loads(out.read_bytes())
    return results


@pytest.mark.parametrize("engine", ["pypmml", "jpmml"])
def test_the_service_refuses_every_xxe_variant(
    engine: str, model_files: ModelFiles, tmp_path: Path, listener: int
) -> None:
    Recorder.hits.clear()
    results = probe(engine, model_files, tmp_path, listener)
    assert set(results) == {"file-entity", "network-entity", "parameter-entity", "external-dtd"}
    assert all(r.startswith("refused") for r in results.values()), results
    assert not any("TOP-SECRET" in r for r in results.values())
    assert Recorder.hits == []


def test_control_plain_pypmml_does_reach_out(
    model_files: ModelFiles, tmp_path: Path, listener: int
) -> None:
    """Without the hardening the same documents reach the network: the hazard is real, and
    the test above would fail without the JVM options."""
    Recorder.hits.clear()
    probe("plain", model_files, tmp_path, listener)
    assert Recorder.hits


def test_control_plain_jpmml_refuses_doctypes_by_itself(
    model_files: ModelFiles, tmp_path: Path, listener: int
) -> None:
    """JPMML's own parser refuses any DOCTYPE: with it, the JVM options are a second wall."""
    Recorder.hits.clear()
    results = probe("plain-jpmml", model_files, tmp_path, listener)
    assert all("DOCTYPE is disallowed" in r for r in results.values()), results
    assert Recorder.hits == []


UNHARDENED = """
import sys, jpype
from service.runtimes.pmml import open_pmml
from service.runtimes.jvm import jpmml_classpath
if sys.argv[1] == "plain":
    jpype.startJVM(classpath=jpmml_classpath())
try:
    open_pmml(open(sys.argv[2], "rb").read(), None, "jpmml")
    system = jpype.JClass("java.lang.System")
    print("loaded", repr(str(system.getProperty("javax.xml.accessExternalDTD"))))
except Exception as exc:
    print("refused", exc)
"""


@pytest.mark.parametrize(
    ("started", "expected"),
    [("by-us", "loaded ''"), ("plain", "refused the jpmml-evaluator JVM allows external")],
)
def test_jpmml_runs_only_in_a_hardened_jvm(
    started: str, expected: str, model_files: ModelFiles
) -> None:
    """JPype's JVM lives in the process: if other code started it without the hardening,
    PMML is refused rather than parsed there."""
    done = subprocess.run(
        [sys.executable, "-c", UNHARDENED, started, str(model_files.regressor_pmml)],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip().startswith(expected), done.stdout + done.stderr
