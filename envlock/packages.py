"""Package sets (conda and pip, version and build) from any source, and their differences.

Sources: a lock file, an environment at a git revision (name@REV), a registered version
(azureml:name:3), or an installed environment (a running interpreter, a prefix, or the text of
pip freeze, conda list --explicit or an AML image build log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name as normalize_name

from envlock.errors import EnvlockError
from envlock.kinds import BuildContext, EnvironmentContent, ImageOnly, ImageWithConda, Kind
from envlock.lockfile import Lock

if TYPE_CHECKING:
    from envlock.image_inventory import ImageInventory

Key = tuple[str, str]  # (manager, name)
RUNTIME_MANAGER = "aml"  # the manager column of a change to os_type or an inference route


@dataclass(frozen=True)
class PackageSet:
    """Packages from one source (a lock, an image, an installed environment) to compare."""

    label: str
    packages: dict[Key, tuple[str, str | None]]  # -> (version, build)
    has_conda: bool = True  # False where conda packages cannot be known (a plain venv, pip freeze)
    python: str | None = None  # the interpreter's version, where it is known
    # How AML runs it (os_type, each inference route), where the source says: a registered
    # version or a current declaration; a lock alone does not hold it.
    runtime: dict[str, str] | None = None


@dataclass(frozen=True)
class Change:
    """One package that differs between two package sets."""

    manager: str
    name: str
    change: str  # "added", "removed", "changed"
    before: str | None
    after: str | None



def from_lock(lock: Lock, platform: str, label: str) -> PackageSet:
    packages: dict[Key, tuple[str, str | None]] = {}
    for package in lock.for_platform(platform):
        name = package.name if package.manager == "conda" else normalize_name(package.name)
        # A pip package pinned by URL (git+...@commit) is identified by that URL, wherever it is read.
        pinned = package.url if package.manager == "pip" and package.url.startswith("git+") else package.version
        packages[(package.manager, name)] = (pinned, package.build)
    python = lock.python_version(platform) or lock.python
    return PackageSet(label, packages, has_conda=any(p.manager == "conda" for p in lock.packages)
                      or lock.kind is Kind.IMAGE_CONDA, python=python)


def from_inventory(inventory: ImageInventory, label: str) -> PackageSet:
    """An image's packages as `envlock verify` would see them inside a job on it."""
    from envlock.image_lockfile import IMAGE_PLATFORM, locked_packages

    lock = Lock(name=label, kind=Kind.IMAGE, image="", platforms=(IMAGE_PLATFORM,), channels=(),
                packages=locked_packages(inventory), inputs_sha256="", resolvers=(), inventory=inventory)
    return from_lock(lock, IMAGE_PLATFORM, label)


_CONDA_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)=([^=\s]+)=(\S+)$")
_PIP_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([^\s;\\]+)")


def from_content(content: EnvironmentContent, label: str) -> PackageSet:
    """A registered version's packages: its pinned conda file, or its build context's locked files."""
    match content:
        case ImageOnly():
            return PackageSet(label, {}, has_conda=False)
        case ImageWithConda(conda_file=conda_file):
            return _from_rendered_files([conda_file], [], label, has_conda=True)
        case BuildContext(files=()) as context:
            raise EnvlockError(f"{label} is a build context stored at {context.location or 'an unknown place'}; "
                               "envlock does not download contexts: compare the lock it was registered from "
                               "(NAME@REV or the lock file)")
        case BuildContext(files=files):
            conda_files = [text for path, text in files if path.endswith((".yml", ".yaml"))]
            requirements = [text for path, text in files if path.endswith(".txt")]
            return _from_rendered_files(conda_files, requirements, label, has_conda=bool(conda_files))


def _from_rendered_files(conda_files: list[str], requirements: list[str], label: str,
                         has_conda: bool) -> PackageSet:
    import yaml

    packages: dict[Key, tuple[str, str | None]] = {}
    pip_lines: list[str] = []
    for conda_file in conda_files:
        data = yaml.safe_load(conda_file)
        for dependency in (data.get("dependencies") if isinstance(data, dict) else None) or []:
            if isinstance(dependency, dict):
                pip_lines += [str(line) for line in dependency.get("pip") or []]
            elif match := _CONDA_PIN.match(str(dependency)):
                packages[("conda", match.group(1))] = (match.group(2), match.group(3))
    for text in requirements:
        pip_lines += text.splitlines()
    for line in pip_lines:
        if match := _PIP_PIN.match(line.strip()):
            packages[("pip", normalize_name(match.group(1)))] = (match.group(2), None)
    return PackageSet(label, packages, has_conda=has_conda)


def compare(before: PackageSet, after: PackageSet) -> list[Change]:
    """What changed from `before` to `after`; conda is compared only where both sides know it."""
    changes = []
    managers = {"pip"} | ({"conda"} if before.has_conda and after.has_conda else set())
    for key in sorted(set(before.packages) | set(after.packages)):
        if key[0] not in managers:
            continue
        old, new = before.packages.get(key), after.packages.get(key)
        if old == new:
            continue
        if old is not None and new is not None and old[0] == new[0] and (old[1] is None or new[1] is None):
            continue  # same version where one side does not know builds
        change = "added" if old is None else "removed" if new is None else "changed"
        changes.append(Change(key[0], key[1], change, _show(old), _show(new)))
    if before.runtime is not None and after.runtime is not None:
        for field in sorted(set(before.runtime) | set(after.runtime)):
            was, now = before.runtime.get(field), after.runtime.get(field)
            if was != now:
                change = "added" if was is None else "removed" if now is None else "changed"
                changes.append(Change(RUNTIME_MANAGER, field, change, was, now))
    return changes


def _show(entry: tuple[str, str | None] | None) -> str | None:
    if entry is None:
        return None
    version, build = entry
    return f"{version}={build}" if build else version
