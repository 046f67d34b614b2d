"""Solver backends: conda (py-rattler, in-process) and pip (uv, cross-target).

Each backend is one module exposing one function that turns a request into LockedPackages.
"""

from __future__ import annotations

from importlib.metadata import version


def resolver_versions(*, conda: bool, pip: bool) -> tuple[tuple[str, str], ...]:
    """The resolvers a lock used, with versions, for its header."""
    names = (["py-rattler"] if conda else []) + (["uv"] if pip else [])
    return tuple((name, version(name)) for name in names)
