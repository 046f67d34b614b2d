"""`envlock diff A B`: a package-level diff between any two environment sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envlock.errors import EnvlockError, UsageError
from envlock.installed import probe
from envlock.lockfile import CONDA_LOCK_FILE, REQUIREMENTS_TXT, Lock, parse_lock_text, read_lock
from envlock.packages import Change, PackageSet, compare, from_content, from_lock
from envlock.refs import parse_reference
from envlock.registries import Registry
from envlock.repo import Repo


def load_source(repo: Repo, source: str, platform: str, registry_opener: object) -> PackageSet:
    """A lock file path, NAME (its current lock), NAME@REV, azureml:NAME:VERSION, installed, or a prefix."""
    if source == "installed":
        return probe(None)[0]
    path = Path(source)
    if path.is_dir() and ((path / "conda-meta").is_dir() or (path / "bin" / "python").exists()):
        return probe(str(path), label=source)[0]
    if path.is_file():
        lock = parse_lock_text(path.stem, path.name, path.read_text(encoding="utf-8"))
        return from_lock(lock, platform, source)
    if source.startswith("azureml:") or source.startswith("azureml://"):
        ref = parse_reference(source)
        if ref.version is None:
            raise UsageError(f"'{source}': name an exact version, e.g. azureml:{ref.name}:3")
        registry: Registry = registry_opener()  # type: ignore[operator]
        stored = registry.get_version(ref.name, ref.version)
        if stored is None:
            raise EnvlockError(f"{source} is not registered in {registry.url}")
        return from_content(stored.content, source)
    if "@" in source:
        name, revision = source.split("@", 1)
        return from_lock(_lock_at_revision(repo, name, revision), platform, source)
    if source in repo.environment_names():
        current = read_lock(source, repo.environments_dir / source)
        if current is None:
            raise EnvlockError(f"{source} has no lock; run envlock lock {source}")
        return from_lock(current, platform, source)
    raise UsageError(f"cannot read '{source}': give a lock file, NAME, NAME@REV, azureml:NAME:VERSION, "
                     "installed, or a prefix path")


def _lock_at_revision(repo: Repo, name: str, revision: str) -> Lock:
    folder = f"{repo.environments_dir.relative_to(repo.root)}/{name}"
    for file_name in (CONDA_LOCK_FILE, REQUIREMENTS_TXT):
        result = subprocess.run(["git", "-C", str(repo.root), "show", f"{revision}:{folder}/{file_name}"],
                                capture_output=True, text=True)
        if result.returncode == 0:
            return parse_lock_text(name, file_name, result.stdout)
    raise EnvlockError(f"{name}@{revision}: no lock for {name} at git revision {revision}")


def run_diff(repo: Repo, first: str, second: str, platform: str, registry_opener: object) -> list[Change]:
    return compare(load_source(repo, first, platform, registry_opener),
                   load_source(repo, second, platform, registry_opener))
