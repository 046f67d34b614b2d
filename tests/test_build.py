"""`envlock build`: what AML receives, rendered from the lock."""

from __future__ import annotations

import json

import yaml

from tests.conftest import DIGEST_IMAGE, RepoBuilder

TRAINING = """\
channels: [conda-forge]
dependencies:
  - python=3.10
  - pip
  - numpy<2
  - pip:
    - pytest==8.3.*
"""


def test_build_renders_a_pinned_conda_file_env_yml_and_manifest(repo: RepoBuilder) -> None:
    repo.settings("platforms: [linux-64, osx-arm64]\n")
    repo.env("train", conda=TRAINING)
    result = repo.run("build")
    assert result.exit_code == 0, result.output
    out = repo.root / "build" / "train"
    conda = yaml.safe_load((out / "conda.yaml").read_text())
    lock = yaml.safe_load((repo.root / "environments/train/conda-lock.yml").read_text())
    linux = {p["name"]: p for p in lock["package"] if p["platform"] == "linux-64"}
    conda_lines = [d for d in conda["dependencies"] if isinstance(d, str)]
    assert f"python={linux['python']['version']}={linux['python']['build']}" in conda_lines
    assert len(conda_lines) == sum(1 for p in linux.values() if p["manager"] == "conda")
    pip_lines = conda["dependencies"][-1]["pip"]
    pytest_line = next(line for line in pip_lines if line.startswith("pytest=="))
    assert pytest_line == f"pytest=={linux['pytest']['version']} --hash=sha256:{linux['pytest']['hash']['sha256']}"
    assert any(line.startswith("tomli==") for line in pip_lines)

    env_yml = yaml.safe_load((out / "env.yml").read_text())
    assert env_yml["image"] == DIGEST_IMAGE and env_yml["conda_file"] == "conda.yaml"
    manifest = json.loads((repo.root / "build/manifest.json").read_text())
    entry = manifest["environments"]["train"]
    assert entry["lock_sha256"] == lock["metadata"]["custom_metadata"]["envlock.lock-sha256"]
    assert env_yml["tags"]["envlock.lock-sha256"] == entry["lock_sha256"]
    assert set(entry["files"]) == {"conda.yaml", "env.yml"}

    first = repo.snapshot()
    assert repo.run("build").exit_code == 0
    assert repo.snapshot() == first


def test_build_of_a_pip_only_environment_is_a_build_context(repo: RepoBuilder) -> None:
    repo.settings("environments:\n  api:\n    python: '3.12'\n")
    repo.env("api", requirements="pytest==8.3.*\n")
    assert repo.run("build", "api").exit_code == 0
    out = repo.root / "build" / "api"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "context", "context/Dockerfile", "context/requirements.txt", "env.yml"]
    dockerfile = (out / "context" / "Dockerfile").read_text()
    assert f"FROM {DIGEST_IMAGE}" in dockerfile and "--require-hashes" in dockerfile
    build = yaml.safe_load((out / "env.yml").read_text())["build"]
    assert build == {"path": "context", "dockerfile_path": "Dockerfile"}


def test_build_refuses_a_lock_without_linux(repo: RepoBuilder) -> None:
    repo.settings("platforms: [osx-arm64]\n")
    repo.env("mac", conda="channels: [conda-forge]\ndependencies: [python=3.10]\n")
    result = repo.run("build")
    assert result.exit_code == 1
    assert "no linux-64 part" in result.stderr


def test_a_manifest_of_another_shape_is_rewritten_not_a_crash(repo: RepoBuilder) -> None:
    # build/manifest.json is envlock's own output; one edited into another shape is written anew
    repo.env("train", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n")
    (repo.root / "build").mkdir()
    for broken in ('{"environments": ["train"]}', '{"environments": "train"}', "[1]", "{x"):
        (repo.root / "build/manifest.json").write_text(broken)
        result = repo.run("build")
        assert result.exit_code == 0, result.output
        manifest = json.loads((repo.root / "build/manifest.json").read_text())
        assert list(manifest["environments"]) == ["train"]


def test_the_conda_files_variables_reach_aml_and_belong_to_the_lock(repo: RepoBuilder) -> None:
    conda = ("channels: [conda-forge]\ndependencies:\n  - python=3.10\n"
             "variables:\n  MKL_THREADING_LAYER: GNU\n  OMP_NUM_THREADS: 4\n")
    folder = repo.env("train", conda=conda)
    assert repo.run("build").exit_code == 0
    rendered = yaml.safe_load((repo.root / "build" / "train" / "conda.yaml").read_text())
    assert list(rendered["variables"].items())[:2] == [("MKL_THREADING_LAYER", "GNU"), ("OMP_NUM_THREADS", "4")]
    assert list(rendered["variables"])[-1] == "ENVLOCK_LOCK_SHA256"

    (folder / "conda.yaml").write_text(conda.replace("GNU", "INTEL"))  # a new value: a new lock
    assert repo.run("check").exit_code == 1
    locked = repo.run("lock", "--check")
    assert locked.exit_code == 1 and "would change" in locked.stdout
