"""Writes stay inside the repository: no symlink leaving it is followed; files keep their mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envlock.fsutil import UnsafePathError, atomic_write, remove, remove_stale_temp_files, safe_path
from tests.conftest import RepoBuilder


def _outside(tmp_path: Path) -> Path:
    victim = tmp_path.parent / f"{tmp_path.name}-outside"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    return victim


def test_build_refuses_a_build_folder_linked_outside_and_deletes_nothing(repo: RepoBuilder,
                                                                          tmp_path: Path) -> None:
    victim = _outside(tmp_path)
    repo.env("base")
    (repo.root / "build").mkdir()
    (repo.root / "build" / "base").symlink_to(victim)
    result = repo.run("build")
    assert result.exit_code == 2, result.output
    assert "build/base is a symlink" in result.output and "outside the repository" in result.output
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]


@pytest.mark.parametrize("link", ["build", ".envlock"])
def test_a_top_level_folder_linked_outside_is_refused(repo: RepoBuilder, tmp_path: Path, link: str) -> None:
    victim = _outside(tmp_path)
    repo.env("base")
    (repo.root / link).symlink_to(victim)
    result = repo.run("build" if link == "build" else "register")
    assert result.exit_code == 2, result.output
    assert f"{link} is a symlink" in result.output
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]


def test_lock_refuses_an_environment_folder_linked_outside(repo: RepoBuilder, tmp_path: Path) -> None:
    victim = _outside(tmp_path)
    (victim / "env.yml").write_text("name: ext\nimage: python:3.12\n")
    (repo.root / "environments" / "ext").symlink_to(victim)
    result = repo.run("lock")
    assert result.exit_code == 2, result.output
    assert "environments/ext is a symlink" in result.output
    assert sorted(p.name for p in victim.iterdir()) == ["env.yml", "precious.txt"]


def test_a_conda_file_outside_the_repository_is_a_declaration_error(repo: RepoBuilder, tmp_path: Path) -> None:
    victim = _outside(tmp_path)
    (victim / "conda.yaml").write_text("channels: [conda-forge]\ndependencies: [python=3.10]\n")
    repo.env("train", env_yml=f"name: train\nimage: python:3.12\nconda_file: {victim / 'conda.yaml'}\n")
    result = repo.run("check")
    assert result.exit_code == 2, result.output
    assert "conda_file" in result.output and "outside the repository" in result.output


def test_new_files_are_0644_edited_files_keep_their_mode_and_links_stay_links(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new.txt", "a\n", root=tmp_path)
        (tmp_path / "script.sh").write_text("old\n")
        (tmp_path / "script.sh").chmod(0o750)
        atomic_write(tmp_path / "script.sh", "new\n", root=tmp_path)
        (tmp_path / "real.yml").write_text("x: 1\n")
        (tmp_path / "job.yml").symlink_to("real.yml")
        atomic_write(tmp_path / "job.yml", "x: 2\n", root=tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "script.sh").stat().st_mode) == 0o750
    assert (tmp_path / "job.yml").is_symlink() and (tmp_path / "real.yml").read_text() == "x: 2\n"


def test_a_link_to_a_file_outside_is_refused_and_removing_a_link_keeps_its_target(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    victim = _outside(tmp_path)
    (root / "job.yml").symlink_to(victim / "precious.txt")
    with pytest.raises(UnsafePathError, match="job.yml is a symlink"):
        atomic_write(root / "job.yml", "x\n", root=root)
    with pytest.raises(UnsafePathError, match="outside the repository"):
        safe_path(root, root / ".." / "elsewhere.txt")
    remove(root, root / "job.yml")
    assert not (root / "job.yml").exists() and (victim / "precious.txt").read_text() == "keep me\n"


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path: Path) -> None:
    dead = tmp_path / ".conda-lock.yml.999999999.abc123.envlock-tmp"
    alive = tmp_path / f".conda-lock.yml.{os.getpid()}.def456.envlock-tmp"
    other = tmp_path / ".hidden.tmp"
    for path in (dead, alive, other):
        path.write_text("partial")
    remove_stale_temp_files(tmp_path)
    assert not dead.exists() and alive.exists() and other.exists()
