"""The git commit a registration came from, when the repository is a git work tree.

A commit names a registration only when the environment's files (declaration and lock) are
committed and unchanged in it; otherwise the tag says the tree was dirty, so nobody looks up a
commit that does not hold what was registered.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DIRTY_PREFIX = "dirty-"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None


def current_commit(root: Path) -> str | None:
    result = _git(root, "rev-parse", "HEAD")
    commit = result.stdout.strip() if result else ""
    return commit if result and result.returncode == 0 and len(commit) == 40 else None


def commits_for(root: Path, folders: dict[str, Path]) -> dict[str, str | None]:
    """name -> HEAD's commit if everything in its folder is committed there, 'dirty-<HEAD>' if not.

    None everywhere outside a git work tree. One `git status` for all folders.
    """
    head = current_commit(root)
    if head is None:
        return {name: None for name in folders}
    relative = {name: folder.resolve().relative_to(root.resolve()).as_posix() for name, folder in folders.items()}
    result = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=no", "--",
                  *relative.values())
    if result is None or result.returncode != 0:
        return {name: f"{DIRTY_PREFIX}{head}" for name in folders}
    changed = [entry[3:] for entry in result.stdout.split("\0") if len(entry) > 3]
    return {name: f"{DIRTY_PREFIX}{head}" if any(path == folder or path.startswith(folder + "/")
                                                  for path in changed) else head
            for name, folder in relative.items()}
