"""Optional dependency groups: the core install is the offline gate; `[lock]` and `[azure]` add the rest.

Every lazy import of an optional package goes through `require_extra`, so a missing one is one
message naming the extra to install (exit 2), never an ImportError traceback.
"""

from __future__ import annotations

import importlib.util

from envlock.errors import MissingExtra

# extra -> the modules envlock imports from it (pip-tools is in [lock] for its CLI only)
EXTRAS: dict[str, tuple[str, ...]] = {
    "lock": ("rattler", "uv", "conda_lock"),
    "azure": ("azure.ai.ml", "azure.identity", "zstandard"),
    "sbom": ("cyclonedx", "packageurl"),
}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package (azure) is missing
        return False


def require_extra(extra: str, needed_for: str, *modules: str) -> None:
    """Raise MissingExtra unless `modules` (default: every module of `extra`) can be imported."""
    missing = [module for module in modules or EXTRAS[extra] if not _importable(module)]
    if missing:
        raise MissingExtra(
            f"{needed_for} needs envlock[{extra}] ({', '.join(missing)} not installed)\n"
            f"  fix: pip install 'envlock[{extra}]'  (or 'envlock[all]')"
        )
