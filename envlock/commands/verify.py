"""`envlock verify`: does the running environment match its lock? (inside a job, or from its logs)

This runs inside the job, on the job's Python: it imports only what every supported Python has
(no tomllib, no solver, no Azure SDK).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from envlock.errors import EnvlockError, UsageError
from envlock.installed import host_conda_platform, parse_installer_output, probe
from envlock.lockfile import parse_lock_text, read_lock
from envlock.packages import Change, PackageSet, compare, from_lock
from envlock.repo import Repo, find_repo
from envlock.yamlio import MAX_LOCK_BYTES, read_text

# pip-sync's rule: the installer's own tools are not "extra" unless asked (--strict).
INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel"})


@dataclass(frozen=True)
class Verification:
    """Installed packages compared with a lock for one platform."""

    lock_label: str
    observed_label: str
    platform: str
    changes: list[Change]
    conda_checked: bool
    unchecked: tuple[str, ...] = ()  # what could not be compared: never "matches" with these

    @property
    def ok(self) -> bool:
        return not self.changes and not self.unchecked


def run_verify(name: str | None, lock_file: Path | None, *, from_file: Path | None, python: str | None,
               allow_extra: tuple[str, ...], repo_dir: Path | None, strict: bool = False,
               pip_only: bool = False) -> Verification:
    if from_file is not None:
        observed = parse_installer_output(from_file.read_text(encoding="utf-8", errors="replace"), str(from_file))
        platform = host_conda_platform()
    else:
        observed, platform = probe(python)
    if lock_file is not None:
        lock = parse_lock_text(lock_file.stem, lock_file.name, read_text(lock_file, MAX_LOCK_BYTES),
                               source=str(lock_file))
        label = str(lock_file)
    elif name is not None:
        repo: Repo = find_repo(repo_dir)
        found = read_lock(name, repo.environments_dir / name, validate=True)
        if found is None:
            raise EnvlockError(f"{name} has no lock; run envlock lock {name}")
        lock, label = found, name
    else:
        raise UsageError("name an environment or pass --lock FILE")
    if platform not in lock.platforms:
        raise EnvlockError(f"the lock has no {platform} part (it has {', '.join(lock.platforms)})")
    expected = from_lock(lock, platform, label)
    unchecked: list[str] = []
    if not observed.has_conda and expected.has_conda:
        expected = _pip_view(expected)  # compare what can be seen, and say what could not
        if not pip_only:
            unchecked.append("conda packages (no conda metadata here; --pip-only accepts checking pip alone)")
    allowed = {canonicalize_name(n) for n in allow_extra} | (set() if strict else set(INSTALLER_TOOLS))
    changes = [c for c in compare(expected, observed)
               if not (c.change == "added" and c.manager == "pip" and c.name in allowed)]
    changes += _interpreter_change(expected, observed)
    return Verification(label, observed.label, platform, changes, expected.has_conda and observed.has_conda,
                        tuple(unchecked))


def _interpreter_change(expected: PackageSet, observed: PackageSet) -> list[Change]:
    """The running interpreter against the lock's Python (a lock may name only 3.12, or 3.12.4).

    Where conda metadata lists python, the conda comparison already covers it.
    """
    if not expected.python or not observed.python or ("conda", "python") in observed.packages:
        return []
    wanted, running = expected.python.split("."), observed.python.split(".")
    if running[:len(wanted)] == wanted:
        return []
    return [Change("python", "interpreter", "changed", expected.python, observed.python)]


def _pip_view(expected: PackageSet) -> PackageSet:
    return PackageSet(expected.label, {k: v for k, v in expected.packages.items() if k[0] == "pip"},
                      has_conda=False, python=expected.python)
