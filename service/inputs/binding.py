"""Which record field feeds each model input: the descriptor's fieldMap, then the exact name,
then the normalised name. Pure, unit-tested alone."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_SEPARATORS = re.compile(r"[\s_\-]+")
MAX_CACHED_LAYOUT_CHARS = 16 * 1024


def normalise_name(name: str) -> str:
    """`Fixed Acidity`, `fixed-acidity` and `fixed_acidity` are one field."""
    return _SEPARATORS.sub("", name).casefold()


class FieldBinder:
    """Finds, for each model input, the record field that feeds it: the descriptor's
    ``fieldMap`` first, then the same name, then the same normalised name. Resolution depends
    only on the record's set of keys, so it is cached per key layout; records of one producer
    share a layout and cost one dict look-up."""

    def __init__(self, input_names: Sequence[str], field_map: Mapping[str, str] | None) -> None:
        self.input_names = list(input_names)
        self._field_map = dict(field_map or {})
        self._cache: dict[tuple[str, ...], list[str] | str] = {}

    def resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        """The record fields in model order, or the name of the first input it lacks."""
        found = self._cache.get(keys)
        if found is None:
            found = self._resolve(keys)
            # Bounded in layouts and in their size: a producer's layout is a few hundred
            # characters of names; records with huge or ever-new names are resolved each time.
            if len(self._cache) < 1024 and sum(map(len, keys)) <= MAX_CACHED_LAYOUT_CHARS:
                self._cache[keys] = found
        return found

    def _resolve(self, keys: tuple[str, ...]) -> list[str] | str:
        present = set(keys)
        by_norm: dict[str, str] = {}
        for key in keys:
            by_norm.setdefault(normalise_name(key), key)
        columns = []
        for name in self.input_names:
            mapped = self._field_map.get(name)
            if mapped is not None:
                if mapped not in present:
                    return name
                columns.append(mapped)
            elif name in present:
                columns.append(name)
            elif (match := by_norm.get(normalise_name(name))) is not None:
                columns.append(match)
            else:
                return name
        return columns
