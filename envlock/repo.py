"""Find the repository (like git finds its work tree) and the environments declared in it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envlock.errors import UsageError

ENVIRONMENTS_DIR = "environments"
ENV_FILE = "env.yml"


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def environments_dir(self) -> Path:
        return self.root / ENVIRONMENTS_DIR

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def relative(self, path: Path | str) -> str:
        """`path` as the user sees it in messages: relative to the repository when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def environment_names(self) -> list[str]:
        """Every folder under environments/ that holds an env.yml, sorted."""
        if not self.environments_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.environments_dir.iterdir()
            if entry.is_dir() and (entry / ENV_FILE).is_file()
        )

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
