"""A handler module whose import fails."""

from __future__ import annotations

import importlib

importlib.import_module("tests.runtimes.handlers.no_such_module")
