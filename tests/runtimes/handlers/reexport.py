"""A module that imports a callable from elsewhere: ``reexport:loads`` is json's, not a
handler this module defines, and is refused."""

from __future__ import annotations

from json import loads

__all__ = ["loads"]
