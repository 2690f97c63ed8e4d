"""Hypothesis strategies shared by the poison-input properties: JSON of every shape, with
strings made to fool a bracket count (brackets, quotes, backslashes, odd unicode)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

tricky_text = st.text(
    alphabet=st.sampled_from('[]{}"\\/:,\u0000\u202e\ufeff') | st.characters(codec="utf-8"),
    max_size=16,
)


def json_values(max_size: int = 4, max_leaves: int = 30) -> st.SearchStrategy[Any]:
    def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(children, max_size=max_size) | st.dictionaries(
            tricky_text, children, max_size=max_size
        )

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | tricky_text
    )
    return st.recursive(scalars, containers, max_leaves=max_leaves)
