"""The PMML runtime: two engines, one chosen by ``MODELSERVE_PMML_ENGINE``. ``jpmml``
(JPMML-Evaluator, the reference evaluator; AGPL-3.0, the optional extra
``modelserve[jpmml]``) or ``pypmml`` (Apache-2.0, always installed). ``auto`` takes jpmml when
it is installed: pypmml gets some common models wrong (pmml_pypmml.py says which), and the
checks then refuse its answers rather than publish them."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.util import find_spec
from typing import Literal

from service.errors import ModelLoadError
from service.runtimes.base import Model
from service.runtimes.catalog import LoadRequest, PmmlEngineChoice

PmmlEngine = Literal["pypmml", "jpmml"]


def jpmml_installed() -> bool:
    return find_spec("jpmml_evaluator") is not None and find_spec("jpype") is not None


def resolve_engine(choice: PmmlEngineChoice) -> PmmlEngine:
    if choice == "auto":
        return "jpmml" if jpmml_installed() else "pypmml"
    if choice == "jpmml" and not jpmml_installed():
        raise ModelLoadError(
            "MODELSERVE_PMML_ENGINE=jpmml, but jpmml-evaluator is not installed: "
            "pip install 'modelserve[jpmml]' (AGPL-3.0, see README) or use pypmml"
        )
    return choice


def open_pmml(
    artifact: bytes,
    labels: Sequence[str] | None = None,
    engine: PmmlEngineChoice = "auto",
    threads: int = 1,
) -> Model:
    if resolve_engine(engine) == "jpmml":
        from service.runtimes.pmml_jpmml import JpmmlModel

        return JpmmlModel(artifact, labels, threads)
    from service.runtimes.pmml_pypmml import PypmmlModel

    return PypmmlModel(artifact, labels)


def load(request: LoadRequest) -> Model:
    options = request.options
    return open_pmml(
        request.artifact, request.labels, options.pmml_engine, options.intra_op_threads
    )
