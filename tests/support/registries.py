"""Pytest fixtures for registry tests: the AML emulator (once per session) and locked repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmlEmulator]:
    server = AmlEmulator(tmp_path_factory.mktemp("aml")).start()
    wiring = {k: v for k, v in server.client_environment().items() if k != "ENVLOCK_REGISTRY"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in wiring.items():
            patch.setenv(key, value)
        yield server
    server.stop()


@pytest.fixture
def aml(emulator: AmlEmulator) -> Iterator[AmlEmulator]:
    """The session's emulator with empty state and no pending faults."""
    emulator.reset()
    yield emulator
    emulator.reset()


def conda_env(python_minor: int = 10, extra: str = "") -> str:
    return f"channels: [conda-forge]\ndependencies:\n  - python=3.{python_minor}\n  - numpy<2\n{extra}"


def locked_repo(repo: RepoBuilder, names: list[str]) -> RepoBuilder:
    for name in names:
        repo.env(name, conda=conda_env())
    result = repo.run("lock")
    assert result.exit_code == 0, result.output
    return repo


def locked_copies(repo: RepoBuilder, names: list[str]) -> RepoBuilder:
    """The first environment locked, the others copies of it under their own names (one solve)."""
    import shutil

    locked_repo(repo, names[:1])
    seed = repo.root / "environments" / names[0]
    for name in names[1:]:
        target = repo.root / "environments" / name
        shutil.copytree(seed, target)
        (target / "env.yml").write_text((seed / "env.yml").read_text().replace(names[0], name))
    return repo


def run_cli(repo_root: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """envlock as a separate process, the way CD systems run it."""
    return subprocess.run([sys.executable, "-m", "envlock", "-C", str(repo_root), *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)
