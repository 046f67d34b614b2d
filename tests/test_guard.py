"""`envlock preflight`, `pin`, `diff` and `verify`: catching drift before and while jobs run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.registries import conda_env

JOBS = Path(__file__).parent / "jobs"


def two_versions(repo: RepoBuilder, registry: tuple[str, ...] = ()) -> None:
    """train:1 from an old lock, train:2 from the current one; score:1."""
    repo.env("train", conda=conda_env(extra="  - scipy\n"))
    repo.env("score", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    assert repo.run("register", *registry).exit_code == 0
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    assert repo.run("register", *registry).exit_code == 0


@pytest.fixture
def jobs_repo(repo: RepoBuilder) -> RepoBuilder:
    shutil.copytree(JOBS, repo.root / "jobs")
    two_versions(repo)
    return repo


def kinds(findings: list[dict]) -> set[tuple[str, int, str]]:  # type: ignore[type-arg]
    return {(f["file"], f["line"], f["kind"]) for f in findings}


def test_preflight_reports_every_drift_scenario(jobs_repo: RepoBuilder) -> None:
    result = jobs_repo.run("preflight", "--json")
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert kinds(found) == {
        ("jobs/train-job.yml", 10, "floating-label"),
        ("jobs/pipeline.yml", 11, "drift"),
        ("jobs/pipeline.yml", 11, "mixed-versions"),
        ("jobs/pipeline.yml", 22, "inline-environment"),
        ("jobs/score-component.yml", 8, "registry-environment"),
        ("jobs/score-component.yml", 8, "floating-label"),
        ("jobs/sweep.yml", 7, "missing-version"),
    }
    mixed = next(f for f in found if f["kind"] == "mixed-versions")
    assert mixed["severity"] == "warning" and "1 (jobs.prep)" in mixed["message"]
    assert all(f["fix"] for f in found)
    strict = json.loads(jobs_repo.run("preflight", "--json", "--strict").stdout)
    assert next(f for f in strict if f["kind"] == "mixed-versions")["severity"] == "error"

    human = jobs_repo.run("preflight")
    assert "jobs/sweep.yml:7: train: azureml:train:99 does not exist" in human.stdout


def test_archived_versions_are_reported(jobs_repo: RepoBuilder) -> None:
    gc = json.loads(jobs_repo.run("gc", "train", "--keep", "0", "--json").stdout)
    assert gc["versions"] == []  # jobs still reference train:1, so gc keeps it
    from envlock.registries import open_registry

    open_registry(None, jobs_repo.root).set_archived("train", "1", True)  # archived by hand
    found = json.loads(jobs_repo.run("preflight", "jobs/pipeline.yml", "--json").stdout)
    assert ("jobs/pipeline.yml", 11, "archived-version") in kinds(found)


def test_offline_checks_only_what_needs_no_registry(jobs_repo: RepoBuilder) -> None:
    found = json.loads(jobs_repo.run("preflight", "--offline", "--json").stdout)
    assert {f["kind"] for f in found} == {"floating-label", "mixed-versions", "inline-environment",
                                           "registry-environment"}


def test_preflight_reads_each_environment_once(repo: RepoBuilder, aml: AmlEmulator) -> None:
    shutil.copytree(JOBS, repo.root / "jobs")
    two_versions(repo, ("--registry", aml.workspace_url))
    before = len(aml.requests_matching("GET", r"/environments/"))
    result = repo.run("preflight", "--registry", aml.workspace_url, "--json")
    assert result.exit_code == 1
    reads = aml.requests_matching("GET", r"/environments/")[before:]
    assert sorted(reads) == sorted({read for read in reads})  # no environment read twice
    assert {path.rsplit("/environments/", 1)[1] for _, path in reads} == {"train/versions"}
    assert ("jobs/pipeline.yml", 11, "drift") in kinds(json.loads(result.stdout))


def test_pin_rewrites_only_the_reference_text(jobs_repo: RepoBuilder) -> None:
    before = {p.name: p.read_text() for p in (jobs_repo.root / "jobs").iterdir()}
    result = jobs_repo.run("pin", "--json")
    assert result.exit_code == 0, result.output
    changes = {(c["file"], c["line"], c["old"], c["new"]) for c in json.loads(result.stdout)}
    assert changes == {
        ("jobs/train-job.yml", 10, "azureml:train@latest", "azureml:train:2"),
        ("jobs/pipeline.yml", 11, "azureml:train:1", "azureml:train:2"),
        ("jobs/sweep.yml", 7, "azureml:train:99", "azureml:train:2"),
    }
    after = {p.name: p.read_text() for p in (jobs_repo.root / "jobs").iterdir()}
    assert after["train-job.yml"] == before["train-job.yml"].replace(
        'environment:   "azureml:train@latest"    # TODO', 'environment:   "azureml:train:2"    # TODO')
    assert after["pipeline.yml"] == before["pipeline.yml"].replace(
        "environment: azureml:train:1          # left", "environment: azureml:train:2          # left")
    assert after["sweep.yml"] == before["sweep.yml"].replace("azureml:train:99", "azureml:train:2")
    assert after["score-component.yml"] == before["score-component.yml"]  # no owned clone to pin to

    remaining = {f["kind"] for f in json.loads(jobs_repo.run("preflight", "--json").stdout)}
    assert remaining == {"inline-environment", "registry-environment", "floating-label"}
    assert jobs_repo.run("pin", "--json").stdout.strip() == "[]"  # pinning twice changes nothing


def test_pin_from_a_register_output_file(repo: RepoBuilder) -> None:
    shutil.copytree(JOBS, repo.root / "jobs")
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    assert repo.run("register", "--output", str(repo.root / "registered.json")).exit_code == 0
    result = repo.run("pin", "jobs/sweep.yml", "--from", str(repo.root / "registered.json"), "--json")
    assert [c["new"] for c in json.loads(result.stdout)] == ["azureml:train:1"]
    assert "azureml:train:1" in (repo.root / "jobs/sweep.yml").read_text()


# ---------------------------------------------------------------- diff


def test_diff_between_locks_revisions_and_registered_versions(repo: RepoBuilder) -> None:
    subprocess.run(["git", "init", "-q", str(repo.root)], check=True)
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    assert repo.run("register").exit_code == 0
    git = ["git", "-C", str(repo.root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "train"], check=True)
    repo.env("train", conda=conda_env().replace("numpy<2", "numpy>=2") + "  - scipy\n")
    assert repo.run("lock").exit_code == 0

    for old in ("train@HEAD", "azureml:train:1", str(repo.root / "train-head.yml")):
        if old.endswith(".yml"):
            shutil.copy(repo.root / "environments/train/conda-lock.yml", old)
            continue
        result = repo.run("diff", old, "train", "--json")
        assert result.exit_code == 1, result.output
        changes = {(c["manager"], c["name"], c["change"]) for c in json.loads(result.stdout)}
        assert ("conda", "numpy", "changed") in changes and ("conda", "scipy", "added") in changes
        numpy = next(c for c in json.loads(result.stdout) if c["name"] == "numpy")
        assert numpy["before"].startswith("1.26.") and numpy["after"].startswith("2.0.0=")
    same = repo.run("diff", "train", str(repo.root / "train-head.yml"))
    assert same.exit_code == 0 and "no differences" in same.stdout


# ---------------------------------------------------------------- verify


def _clean_pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # the machine's extra indexes must not leak in
    return env


def _pip_install(venv: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--disable-pip-version-check", "--index-url", "https://pypi.org/simple", *args],
                   check=True, env=_clean_pip_env())


def test_verify_a_real_environment_built_from_the_lock(repo: RepoBuilder, tmp_path_factory: pytest.TempPathFactory
                                                       ) -> None:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    repo.settings(f"environments:\n  api:\n    python: '{host}'\n")
    repo.env("api", requirements="idna==3.7\nsix\n")
    assert repo.run("lock").exit_code == 0
    venv = tmp_path_factory.mktemp("job") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _pip_install(venv, "--require-hashes", "--no-deps", "-r", str(repo.root / "environments/api/requirements.txt"))

    ok = repo.run("verify", "api", "--python", str(venv / "bin" / "python"), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True

    _pip_install(venv, "--no-deps", "idna==3.6")  # someone changes one package by hand
    drifted = repo.run("verify", "api", "--python", str(venv / "bin" / "python"), "--json")
    assert drifted.exit_code == 1
    assert json.loads(drifted.stdout)["changes"] == [
        {"manager": "pip", "package": "idna", "change": "differs", "locked": "3.7", "installed": "3.6"}]
    human = repo.run("verify", "--lock", str(repo.root / "environments/api/requirements.txt"),
                     "--python", str(venv / "bin" / "python"))
    assert human.exit_code == 1 and "differs" in human.stdout and "idna" in human.stdout

    _pip_install(venv, "--no-deps", "idna==3.7")
    _pip_install(venv, "--no-deps", "pip")
    assert repo.run("verify", "api", "--python", str(venv / "bin" / "python")).exit_code == 0  # pip-sync's rule
    strict = repo.run("verify", "api", "--python", str(venv / "bin" / "python"), "--strict", "--json")
    assert strict.exit_code == 1
    assert [(c["package"], c["change"]) for c in json.loads(strict.stdout)["changes"]] == [("pip", "extra")]

    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"], capture_output=True,
                            text=True, check=True).stdout
    (tmp_path_factory.getbasetemp() / "freeze.txt").write_text(freeze)
    from_freeze = repo.run("verify", "api", "--from", str(tmp_path_factory.getbasetemp() / "freeze.txt"),
                           "--allow-extra", "pip")
    assert from_freeze.exit_code == 0, from_freeze.output


def test_verify_from_an_aml_image_build_log(repo: RepoBuilder, tmp_path: Path) -> None:
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    lock_versions = json.loads(repo.run("diff", "train", "train", "--json").stdout or "[]")
    assert lock_versions == []
    from envlock.lockfile import read_lock

    lock = read_lock("train", repo.root / "environments/train")
    assert lock is not None
    linked = [p for p in lock.for_platform("linux-64")]
    numpy = next(p for p in linked if p.name == "numpy")
    lines = ["#9 12.31 The following NEW packages will be INSTALLED:", "#9 12.31"]
    for package in linked:
        version = "1.26.0" if package.name == "numpy" else package.version
        lines.append(f"#9 12.31   {package.name:<20} conda-forge/linux-64::{package.name}-{version}-{package.build}")
    lines += ["#9 40.02 Preparing transaction: done", "#9 41.10 Successfully installed extra-tool-0.1"]
    log = tmp_path / "image-build.log"
    log.write_text("\n".join(lines) + "\n")
    result = repo.run("verify", "train", "--from", str(log), "--json")
    assert result.exit_code == 1
    changes = {(c["manager"], c["package"], c["change"]) for c in json.loads(result.stdout)["changes"]}
    assert changes == {("conda", "numpy", "differs"), ("pip", "extra-tool", "extra")}
    assert numpy.version != "1.26.0"


def test_verify_from_conda_list_explicit(repo: RepoBuilder, tmp_path: Path) -> None:
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    from envlock.lockfile import read_lock

    lock = read_lock("train", repo.root / "environments/train")
    assert lock is not None
    urls = [p.url + (f"#{p.md5}" if p.md5 else "") for p in lock.for_platform("linux-64")]
    explicit = tmp_path / "explicit.txt"
    explicit.write_text("# platform: linux-64\n@EXPLICIT\n" + "\n".join(urls) + "\n")
    assert repo.run("verify", "train", "--from", str(explicit)).exit_code == 0
    explicit.write_text("@EXPLICIT\n" + "\n".join(u for u in urls if "/numpy-" not in u) + "\n")
    missing = repo.run("verify", "train", "--from", str(explicit), "--json")
    assert missing.exit_code == 1
    assert [(c["package"], c["change"]) for c in json.loads(missing.stdout)["changes"]] == [("numpy", "missing")]


def test_verify_and_diff_a_prefix_with_conda_metadata(repo: RepoBuilder, tmp_path: Path) -> None:
    """A prefix whose conda-meta/ records what conda linked: conda packages are checked too."""
    repo.env("train", conda=conda_env())
    assert repo.run("lock").exit_code == 0
    from envlock.lockfile import read_lock

    lock = read_lock("train", repo.root / "environments/train")
    assert lock is not None
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    (prefix / "conda-meta").mkdir()
    for package in lock.for_platform("linux-64"):
        record = {"name": package.name, "version": package.version, "build": package.build, "url": package.url}
        (prefix / "conda-meta" / f"{package.name}-{package.version}-{package.build}.json").write_text(
            json.dumps(record))
    ok = repo.run("verify", "train", "--python", str(prefix), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["conda_checked"] is True

    numpy = next((prefix / "conda-meta").glob("numpy-*.json"))
    record = json.loads(numpy.read_text())
    numpy.write_text(json.dumps({**record, "build": "py310_tampered_0"}))
    drifted = repo.run("verify", "train", "--python", str(prefix), "--json")
    assert drifted.exit_code == 1
    change = json.loads(drifted.stdout)["changes"][0]
    assert (change["manager"], change["package"], change["change"]) == ("conda", "numpy", "differs")
    assert change["installed"].endswith("=py310_tampered_0")

    diff = repo.run("diff", "train", str(prefix), "--json")
    assert diff.exit_code == 1
    assert [(c["name"], c["change"]) for c in json.loads(diff.stdout)] == [("numpy", "changed")]
