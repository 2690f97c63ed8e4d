"""The collector tuning touches process-wide state, so it is checked in a process of its own."""

from __future__ import annotations

import subprocess
import sys

from service.gc_tuning import YOUNG_THRESHOLD


def test_tuning_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    code = (
        "import gc; from service.gc_tuning import tune_for_streaming; "
        "before = gc.get_threshold(); tune_for_streaming(); "
        "print(before[0], gc.get_threshold()[0], gc.get_freeze_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after, frozen = map(int, out)
    assert before == 700 and after == YOUNG_THRESHOLD
    assert frozen > 1000  # the imported modules' objects, at least
