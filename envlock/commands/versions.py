"""`envlock versions NAME`: every registered version, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from envlock.registries import Registry, newest_first
from envlock.render import GIT_TAG


@dataclass(frozen=True)
class VersionRow:
    """One registered version of an environment (a row of `envlock versions`)."""

    version: str
    lock_sha256: str | None
    created_at: str
    git_commit: str | None
    archived: bool



def run_versions(registry: Registry, name: str) -> list[VersionRow]:
    return [
        VersionRow(v.version, v.lock_sha256, v.created_at, v.tags.get(GIT_TAG), v.archived)
        for v in newest_first(registry.list_versions(name))
    ]
