"""Where the peer environments are: one virtual environment per peer under ``.peers/``
(``peers/install``, run by ``make peers``), apart from the service's own.

A test that needs one skips, naming ``make peers``, when it is missing or older than its lock
file, and fails instead on CI (``CI=true``), where ``.ci/run`` installs them: missing there
is a broken machine, not an optional extra."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PEERS_DIR_VARIABLE = "MODELSERVE_TEST_PEERS"


def peers_dir() -> Path:
    """``.peers/`` at the repository root, or where ``MODELSERVE_TEST_PEERS`` says (which
    ``peers/install`` reads too)."""
    named = os.environ.get(PEERS_DIR_VARIABLE)
    return REPO / named if named else REPO / ".peers"


def lock_file(name: str) -> Path:
    return REPO / "peers" / name / "requirements.lock"


def peer_python(name: str) -> Path:
    """The Python of peer environment ``name`` (``mlserver``, ``oip-clients``): skips the
    test (fails it on CI) unless that environment is installed from its current lock file."""
    python = peers_dir() / name / "bin" / "python"
    stamp = python.parent.parent / ".installed"
    if not python.exists() or not stamp.exists():
        _missing(f"peer environment {name!r} is not installed in {python.parent.parent}")
    # The stamp starts with the hash of the lock it was installed from: an environment older
    # than its lock would test other versions than the ones pinned.
    installed = stamp.read_text().split()[0]
    wanted = hashlib.sha256(lock_file(name).read_bytes()).hexdigest()
    if installed != wanted:
        _missing(f"peer environment {name!r} is older than peers/{name}/requirements.lock")
    return python


def _missing(why: str) -> NoReturn:
    message = f"{why}: run `make peers`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
