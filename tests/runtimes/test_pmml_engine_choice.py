"""MODELSERVE_PMML_ENGINE: auto takes the reference evaluator when it is installed; asking for
it when it is not is a clear load error, not a silent fallback."""

from __future__ import annotations

import pytest

from service.errors import ModelLoadError
from service.runtimes import pmml


@pytest.mark.parametrize(("installed", "engine"), [(True, "jpmml"), (False, "pypmml")])
def test_auto_prefers_jpmml_when_installed(
    installed: bool, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pmml, "jpmml_installed", lambda: installed)
    assert pmml.resolve_engine("auto") == engine
    assert pmml.resolve_engine("pypmml") == "pypmml"


def test_jpmml_asked_for_but_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pmml, "jpmml_installed", lambda: False)
    with pytest.raises(ModelLoadError, match=r"pip install 'modelserve\[jpmml\]'"):
        pmml.resolve_engine("jpmml")


def test_make_install_has_it() -> None:
    """`make install` installs the extra, so the default engine here is the reference one."""
    assert pmml.jpmml_installed()
