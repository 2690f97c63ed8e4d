"""The join window: bounded by count and by age (the records' own time), oldest out first."""

from __future__ import annotations

from service.learning.windows import RecentById


def test_the_window_forgets_by_count_and_by_age() -> None:
    now = [1000.0]
    window: RecentById[int] = RecentById(max_records=3, max_age_s=10, clock=lambda: now[0])
    for i in range(5):
        window.put(f"r{i}", i, at=995.0 + i)
    assert len(window) == 3 and window.get("r0") is None and window.get("r4") == 4
    now[0] = 1007.5  # r2 (997) is now older than 10 s
    assert window.get("r2") is None and window.get("r3") == 3
    window.put("r3", 33)  # seen again: now, and last out
    now[0] = 1011.0
    assert window.get("r3") == 33 and window.get("r4") is None
