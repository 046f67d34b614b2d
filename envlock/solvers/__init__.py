"""Solver backends: conda (py-rattler, in-process) and pip (uv, cross-target).

Each backend is one module exposing one function that turns a request into LockedPackages.
"""

from __future__ import annotations

import re
from pathlib import Path


def resolver_versions(*, conda: bool, pip: bool) -> tuple[tuple[str, str], ...]:
    """The resolvers a lock used, with versions, for its header."""
    return tuple([("py-rattler", _rattler_version())] if conda else []) + \
        tuple([("uv", _uv_version())] if pip else [])


def _rattler_version() -> str:
    import rattler

    return str(rattler.__version__)


def _uv_version() -> str:
    """uv's version from its dist-info folder's name: importlib.metadata costs 25 ms of imports."""
    import uv

    site = Path(uv.__file__).resolve().parent.parent
    found = [match[1] for folder in site.glob("uv-*.dist-info") if (match := _DIST_INFO.match(folder.name))]
    if len(found) == 1:
        return found[0]
    from importlib.metadata import version

    return version("uv")


_DIST_INFO = re.compile(r"^uv-([^-]+)\.dist-info$")
