"""Find the repository (like git finds its work tree) and the environments declared in it."""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from envlock.errors import UsageError
from envlock.fileread import read_regular

ENVIRONMENTS_DIR = "environments"
ENV_FILE = "env.yml"
YAML_SUFFIXES = (".yml", ".yaml")
NOT_DECLARATIONS = ("envlock.yaml", "conda-lock.yml")
# A top-level key that only an AML environment YAML has (a conda file has channels/dependencies).
_ENVIRONMENT_KEY = re.compile(r"^(?:image|conda_file|build)\s*:|^\$schema\s*:.*environment\.schema", re.MULTILINE)
_CONDA_KEY = re.compile(r"^(?:channels|dependencies)\s*:", re.MULTILINE)


# What check and lock say of a folder under environments/ that holds no declaration.
NO_DECLARATION = ("no AML environment YAML here (no file with an environment $schema, image:, conda_file: or "
                  "build:), so nothing in this folder is locked or checked")
NO_DECLARATION_FIX = "add env.yml (name:, image:, conda_file:), or move the folder out of environments/"


def declaration_file(folder: Path) -> Path | None:
    """The AML environment YAML of an environments/<name>/ folder, found by its shape, whatever its name.

    env.yml is the declaration unless it is a conda file (a conda file may be called env.yml); any
    other *.yml/*.yaml is one when it has an environment $schema or a top-level image:, conda_file:
    or build: key (azureml-examples names them docker-image.yml, environment.yml, ...).
    """
    name = _declaration_name(str(folder))
    return folder / name if name is not None else None


def _declaration_name(folder: str) -> str | None:
    """declaration_file's answer as a file name, on plain strings (discovery asks it for every folder)."""
    first = os.path.join(folder, ENV_FILE)
    if os.path.isfile(first) and not _is_conda_file(first):
        return ENV_FILE
    try:
        with os.scandir(folder) as scan:
            candidates = sorted(entry.name for entry in scan
                                if os.path.splitext(entry.name)[1] in YAML_SUFFIXES and entry.name != ENV_FILE
                                and entry.name not in NOT_DECLARATIONS and entry.is_file())
    except OSError:
        return None
    return next((name for name in candidates if _ENVIRONMENT_KEY.search(_text(os.path.join(folder, name)))), None)


def _text(path: str) -> str:
    """The file's first 2 MB (loading refuses a bigger declaration), decoded leniently: only keys
    are looked for. A pipe named like a declaration does not hang discovery."""
    try:
        return read_regular(path, _MAX_SCANNED_BYTES)[1].decode("utf-8", errors="replace")
    except OSError:
        return ""


_MAX_SCANNED_BYTES = 2 * 1024 * 1024


def _is_conda_file(path: str) -> bool:
    text = _text(path)
    return bool(_CONDA_KEY.search(text)) and not _ENVIRONMENT_KEY.search(text)


@dataclass(frozen=True)
class Repo:
    """A repository that keeps environments under environments/."""

    root: Path

    @cached_property
    def environments_dir(self) -> Path:
        return self.root / ENVIRONMENTS_DIR

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def relative(self, path: Path | str) -> str:
        """`path` as the user sees it in messages: relative to the repository when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except (ValueError, RuntimeError, OSError):  # outside, or a symlink loop (the message says which)
            return str(path)

    def environment_names(self) -> list[str]:
        """Every folder under environments/ that holds an AML environment YAML (found by shape), sorted."""
        return [name for name, is_link in self._folder_names() if self._declared(name, is_link)]

    def undeclared_folders(self, declared: Collection[str] | None = None) -> list[Path]:
        """Folders under environments/ with no recognisable declaration: reported, never skipped silently.

        `declared`: what environment_names() returned, so the folders are not read a second time.
        """
        return [self.environments_dir / name for name, is_link in self._folder_names()
                if (name not in declared if declared is not None else not self._declared(name, is_link))]

    def _declared(self, name: str, is_link: bool) -> bool:
        """A folder linked in from outside the repository counts as declared without being read:
        loading it is then refused with the link named (nothing is followed out of the repository)."""
        folder = os.path.join(self.environments_dir, name)
        if is_link and not os.path.realpath(folder).startswith(os.path.realpath(self.root) + os.sep):
            return True
        return _declaration_name(folder) is not None

    def _folder_names(self) -> list[tuple[str, bool]]:
        """(name, is a symlink) of each folder under environments/, sorted by name."""
        try:
            with os.scandir(self.environments_dir) as scan:  # the kind of each entry without a stat each
                return sorted((entry.name, entry.is_symlink()) for entry in scan
                              if not entry.name.startswith((".", "_")) and entry.is_dir())
        except OSError:  # no environments/ (or not a folder)
            return []

    def select(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """The named environments (all when none are named); unknown names are a usage error."""
        known = self.environment_names()
        if not names:
            return known
        unknown = [name for name in names if name not in known]
        if unknown:
            listing = ", ".join(known) or "none"
            raise UsageError(
                f"unknown environment {', '.join(unknown)}: no {ENVIRONMENTS_DIR}/<name>/{ENV_FILE}"
                f" for it (known: {listing})"
            )
        return list(dict.fromkeys(names))


def find_repo(start: Path | None = None) -> Repo:
    """The nearest folder, from `start` upwards, that has an environments/ folder."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ENVIRONMENTS_DIR).is_dir():
            return Repo(candidate)
    raise UsageError(
        f"no {ENVIRONMENTS_DIR}/ folder in {here} or any parent; run envlock inside a repository"
        f" that has one, or pass -C DIR"
    )
