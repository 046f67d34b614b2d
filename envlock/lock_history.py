"""Locks as they were at a git revision: read with git show, never with a user's text as a git option."""

from __future__ import annotations

import subprocess

from envlock.errors import EnvlockError, UsageError
from envlock.lockfile import CONDA_LOCK_FILE, IMAGE_LOCK_FILE, REQUIREMENTS_TXT, Lock, parse_lock_text
from envlock.repo import Repo
from envlock.spec import AML_NAME


def lock_at_revision(repo: Repo, name: str, revision: str) -> Lock:
    """The lock of `name` as committed at a git revision (`NAME@REV` in diff, a registered commit in sbom)."""
    if not AML_NAME.match(name):
        raise UsageError(f"'{name}@{revision}': '{name}' is not an environment name")
    commit = commit_of(repo, name, revision)
    folder = f"{repo.environments_dir.relative_to(repo.root)}/{name}"
    for file_name in (IMAGE_LOCK_FILE, CONDA_LOCK_FILE, REQUIREMENTS_TXT):
        result = subprocess.run(["git", "-C", str(repo.root), "show", f"{commit}:{folder}/{file_name}"],
                                capture_output=True)
        if result.returncode == 0:
            text = result.stdout.decode("utf-8", errors="replace")
            return parse_lock_text(name, file_name, text, source=f"{name}@{revision}:{folder}/{file_name}")
    raise EnvlockError(f"{name}@{revision}: no lock for {name} at git revision {revision}")


def commit_of(repo: Repo, name: str, revision: str) -> str:
    """The commit a user's revision names, asked of git with options ended: never an option itself."""
    if not revision or revision.startswith("-") or any(c in revision for c in "\0\n\r:"):
        raise UsageError(f"'{name}@{revision}': '{revision}' is not a git revision; give a commit, branch or "
                         f"tag, e.g. {name}@HEAD~1 or {name}@v1.2")
    result = subprocess.run(["git", "-C", str(repo.root), "rev-parse", "--verify", "--quiet", "--end-of-options",
                             f"{revision}^{{commit}}"], capture_output=True, text=True)
    commit = result.stdout.strip()
    if result.returncode != 0 or not commit:
        raise UsageError(f"'{name}@{revision}': git knows no commit '{revision}' in {repo.root}; give a commit, "
                         f"branch or tag (git log --oneline lists them)")
    return commit
