"""Register against a hostile AML: racing processes never overwrite a version; a silent service is
waited for a bounded time, and the message says what was waited for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.registries import conda_env, locked_repo, run_cli


def _locked(root: Path, platforms: str) -> RepoBuilder:
    repo = RepoBuilder(root)
    (root / "environments").mkdir(parents=True)
    repo.settings(f"platforms: [{platforms}]\n")
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    return repo


def test_two_locks_with_the_same_linux_content_race_without_overwriting(tmp_path: Path, aml: AmlEmulator) -> None:
    # Same declaration, different platforms: different locks whose linux-64 part (what AML gets) is equal.
    first = _locked(tmp_path / "a", "linux-64")
    second = _locked(tmp_path / "b", "linux-64, osx-arm64")
    hashes = {repo.root: (repo.root / "environments/train/conda-lock.yml").read_text() for repo in (first, second)}
    assert len(set(hashes.values())) == 2
    env = {**os.environ, **aml.client_environment()}
    processes = [
        subprocess.Popen([sys.executable, "-m", "envlock", "-C", str(repo.root), "register", "--json"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for repo in (first, second, first, second)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        reports.append(json.loads(out)["train"])
    # Two processes with the same lock may both send its identical version (an idempotent PUT the
    # service accepts); no PUT ever changed the lock a version carries.
    assert all((before or {}).get("envlock.lock-sha256") == (after or {}).get("envlock.lock-sha256")
               for _, _, before, after in aml.state.updates)
    stored = {v: aml.workspace_version("train", v).properties["tags"]["envlock.lock-sha256"]
              for v in aml.version_numbers("train")}
    assert sorted(stored) == ["1", "2"] and len(set(stored.values())) == 2
    for report in reports:  # each process reports a version that really carries its lock
        assert stored[report["version"]] == report["lock_sha256"]
    # both versions were created by someone; two processes sending the same lock may both say so
    assert {r["version"] for r in reports if r["status"] == "created"} == {"1", "2"}


def test_a_registry_that_never_answers_is_given_up_on_quickly_and_clearly(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_repo(repo, ["train"])
    aml.inject("GET", r"/environments/train/versions", "slow", times=100, seconds=5)
    wiring = {**aml.client_environment(), "ENVLOCK_READ_TIMEOUT": "0.5", "ENVLOCK_RETRIES": "1"}
    result = run_cli(repo.root, "register", env=wiring)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "read timeout 0.5 s" in result.stderr and "ENVLOCK_READ_TIMEOUT" in result.stderr
    assert len(aml.requests_matching("GET", r"/environments/train/versions")) <= 4  # 1 try + 1 retry per read
    assert aml.version_numbers("train") == []
