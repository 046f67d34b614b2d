"""The envlock.git-commit tag names a commit only when the environment is committed unchanged there."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envlock.gitinfo import commits_for


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_committed_folders_name_the_commit_and_changed_ones_say_dirty(tmp_path: Path) -> None:
    folders = {name: tmp_path / "environments" / name for name in ("clean", "edited", "new-file", "untracked")}
    for folder in list(folders.values())[:3]:
        folder.mkdir(parents=True)
        (folder / "env.yml").write_text("name: x\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    (folders["edited"] / "env.yml").write_text("name: y\n")
    (folders["new-file"] / "conda-lock.yml").write_text("version: 1\n")
    folders["untracked"].mkdir()
    (folders["untracked"] / "env.yml").write_text("name: z\n")
    assert commits_for(tmp_path, folders) == {
        "clean": head, "edited": f"dirty-{head}", "new-file": f"dirty-{head}", "untracked": f"dirty-{head}",
    }


def test_outside_a_git_work_tree_there_is_no_commit(tmp_path: Path) -> None:
    (tmp_path / "environments" / "a").mkdir(parents=True)
    assert commits_for(tmp_path, {"a": tmp_path / "environments" / "a"}) == {"a": None}
