"""Solver backends: conda (py-rattler, in-process) and pip (uv, cross-target).

Each backend is one module exposing one function that turns a request into LockedPackages.
"""

from __future__ import annotations


def resolver_versions(*, conda: bool, pip: bool) -> tuple[tuple[str, str], ...]:
    """The resolvers a lock used, with versions, for its header."""
    from importlib.metadata import version  # 50-100 ms of imports: only when something is solved

    names = (["py-rattler"] if conda else []) + (["uv"] if pip else [])
    return tuple((name, version(name)) for name in names)
