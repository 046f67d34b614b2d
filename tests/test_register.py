"""`envlock register`, `versions`, `export`, `gc` on both registries, with faults and races."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envlock.kinds import ImageWithConda
from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.registries import conda_env, locked_copies, locked_repo, run_cli

VERSION_PATH = re.compile(r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


def registered(result_stdout: str) -> dict[str, dict[str, str]]:
    return json.loads(result_stdout)


# ---------------------------------------------------------------- embedded registry (in-process CLI)


def test_register_is_content_addressed(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train", "score"])
    first = repo.run("register", "--json")
    assert first.exit_code == 0, first.output
    assert {n: (e["version"], e["status"]) for n, e in registered(first.stdout).items()} == {
        "train": ("1", "created"), "score": ("1", "created"),
    }
    assert registered(first.stdout)["train"]["reference"] == "azureml:train:1"

    again = repo.run("register", "--json")
    assert {n: (e["version"], e["status"]) for n, e in registered(again.stdout).items()} == {
        "train": ("1", "unchanged"), "score": ("1", "unchanged"),
    }

    (repo.root / "environments/train/conda.yaml").write_text(conda_env(extra="  - scipy\n"))
    stale = repo.run("register")
    assert stale.exit_code == 1 and "run envlock lock train" in stale.stderr
    assert repo.run("lock").exit_code == 0
    changed = repo.run("register", "--json", "--output", str(repo.root / "registered.json"))
    result = registered(changed.stdout)
    assert (result["train"]["version"], result["train"]["status"]) == ("2", "created")
    assert result["score"]["status"] == "unchanged"
    assert json.loads((repo.root / "registered.json").read_text()) == result
    (repo.root / "environments/train/conda.yaml").write_text(conda_env())  # the change undone
    assert repo.run("lock").exit_code == 0
    undone = registered(repo.run("register", "--json").stdout)["train"]
    assert (undone["version"], undone["status"]) == ("1", "unchanged")  # the older version, found in the history
    (repo.root / "environments/train/conda.yaml").write_text(conda_env(extra="  - scipy\n"))
    assert repo.run("lock").exit_code == 0
    lock_text = (repo.root / "environments/train/conda-lock.yml").read_text()
    assert f"envlock.lock-sha256: {result['train']['lock_sha256']}" in lock_text

    # the embedded default lives in the repository and holds exactly what build renders
    database = sqlite3.connect(repo.root / ".envlock/registry.db")
    rows = database.execute("SELECT name, version, conda_file, tags FROM environment_versions "
                            "ORDER BY name, version").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("score", "1"), ("train", "1"), ("train", "2")]
    assert repo.run("build").exit_code == 0
    assert rows[-1][2] == (repo.root / "build/train/conda.yaml").read_text()
    assert json.loads(rows[-1][3])["envlock.version"]


def test_dry_run_changes_nothing(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train"])
    result = repo.run("register", "--dry-run", "--json")
    assert registered(result.stdout)["train"]["status"] == "would create"
    versions = repo.run("versions", "train", "--json")
    assert json.loads(versions.stdout) == []


def test_versions_export_and_gc(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train"])
    for extra in ("", "  - scipy\n", "  - pandas\n"):
        (repo.root / "environments/train/conda.yaml").write_text(conda_env(extra=extra))
        assert repo.run("lock").exit_code == 0
        assert repo.run("register").exit_code == 0
    rows = json.loads(repo.run("versions", "train", "--json").stdout)
    assert [r["version"] for r in rows] == ["3", "2", "1"]
    assert all(len(r["lock_sha256"]) == 64 and not r["archived"] for r in rows)

    exported = repo.run("export", "train:1", "--as", "train-v1")
    assert exported.exit_code == 0, exported.output
    folder = repo.root / "environments/train-v1"
    env_yml = yaml.safe_load((folder / "env.yml").read_text())
    assert env_yml["name"] == "train-v1" and env_yml["conda_file"] == "conda.yaml"
    pins = yaml.safe_load((folder / "conda.yaml").read_text())["dependencies"]
    assert any(re.fullmatch(r"numpy=1\.26\.\d+=\S+", p) for p in pins)
    assert repo.run("export", "train:1", "--as", "train-v1").exit_code == 1  # refuses to overwrite
    assert repo.run("export", "train:1", "--as", "train-v1", "--force").exit_code == 0
    assert repo.run("lock", "train-v1").exit_code == 0  # the export is a declaration like any other
    relocked = repo.run("register", "train-v1", "--json")
    assert registered(relocked.stdout)["train-v1"]["status"] == "created"

    dry = json.loads(repo.run("gc", "train", "--keep", "1", "--dry-run", "--json").stdout)
    assert [v["version"] for v in dry["versions"]] == ["2", "1"] and dry["applied"] is False
    assert not any(r["archived"] for r in json.loads(repo.run("versions", "train", "--json").stdout))
    applied = json.loads(repo.run("gc", "train", "--keep", "0", "--json").stdout)  # writes apply by default
    assert [v["version"] for v in applied["versions"]] == ["2", "1"]  # 3 is the current lock: kept
    flags = {r["version"]: r["archived"] for r in json.loads(repo.run("versions", "train", "--json").stdout)}
    assert flags == {"3": False, "2": True, "1": True}
    assert json.loads(repo.run("gc", "train", "--keep", "0", "--older-than", "1", "--json").stdout)["versions"] == []



def test_gc_keeps_versions_that_jobs_still_use(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train"])
    assert repo.run("register").exit_code == 0
    (repo.root / "environments/train/conda.yaml").write_text(conda_env(extra="  - scipy\n"))
    assert repo.run("lock").exit_code == 0 and repo.run("register").exit_code == 0
    (repo.root / "jobs").mkdir()
    job = repo.root / "jobs/nightly.yml"
    job.write_text("command: python train.py\nenvironment: azureml:train:1   # not pinned forward yet\n")
    assert json.loads(repo.run("gc", "--keep", "0", "--json").stdout)["versions"] == []
    job.unlink()
    assert [v["version"] for v in json.loads(repo.run("gc", "--keep", "0", "--json").stdout)["versions"]] == ["1"]


def test_race_on_one_sqlite_file(repo: RepoBuilder) -> None:
    names = [f"env{i}" for i in range(4)]
    locked_repo(repo, names)
    outcomes = _race(repo.root, {})
    assert all(o.returncode == 0 for o in outcomes), [o.stderr for o in outcomes]
    database = sqlite3.connect(repo.root / ".envlock/registry.db")
    rows = database.execute("SELECT name, version FROM environment_versions").fetchall()
    assert sorted(rows) == [(name, "1") for name in names]
    statuses = sorted(s for o in outcomes for s in (e["status"] for e in json.loads(o.stdout).values()))
    assert statuses.count("created") == len(names) and statuses.count("unchanged") == 2 * len(names)


def _race(root: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    import os

    command = [sys.executable, "-m", "envlock", "-C", str(root), "register", "--json"]
    processes = [subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


# ---------------------------------------------------------------- AML workspace (real SDK, emulator)


def _versions_in(aml: AmlEmulator, name: str) -> list[str]:
    return aml.version_numbers(name)


def test_register_against_aml_by_environment_variables_alone(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_repo(repo, ["train", "score"])
    wiring = aml.client_environment()
    first = run_cli(repo.root, "register", "--json", env=wiring)
    assert first.returncode == 0, first.stderr
    assert {n: e["status"] for n, e in json.loads(first.stdout).items()} == {"train": "created", "score": "created"}
    env_requests = aml.requests_matching(pattern="/environments/")
    per_env_created = len(env_requests) / 2

    before = len(aml.requests_matching(pattern="/environments/"))
    again = run_cli(repo.root, "register", "--json", env=wiring)
    assert {n: e["status"] for n, e in json.loads(again.stdout).items()} == {"train": "unchanged", "score": "unchanged"}
    per_env_unchanged = (len(aml.requests_matching(pattern="/environments/")) - before) / 2
    assert per_env_unchanged == 1  # the newest version, read once
    # the newest version, every version (an archived one may hold the lock: AML's newest-first list
    # may leave archived ones out), PUT, read back
    assert per_env_created == 4
    assert _versions_in(aml, "train") == ["1"]

    assert repo.run("build").exit_code == 0
    stored = aml.workspace_version("train", "1")
    assert stored.properties["image"].endswith("@sha256:" + "ab" * 32)
    assert yaml.safe_load(stored.properties["condaFile"]) == yaml.safe_load(
        (repo.root / "build/train/conda.yaml").read_text())
    assert stored.properties["tags"]["envlock.lock-sha256"] == json.loads(first.stdout)["train"]["lock_sha256"]

    versions = run_cli(repo.root, "versions", "train", "--json", env=wiring)
    assert [r["version"] for r in json.loads(versions.stdout)] == ["1"]


def test_next_version_is_above_whatever_exists(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_repo(repo, ["train"])
    from envlock.registries import EnvironmentVersion, open_registry

    registry = open_registry(aml.workspace_url, repo.root)
    for version in ("1", "7", "2024-07-rc"):
        registry.create_version(EnvironmentVersion("train", version, ImageWithConda("img", "dependencies: [python]\n"),
                                                   tags={"envlock.lock-sha256": version}))
    result = run_cli(repo.root, "register", "--json", env=aml.client_environment())
    assert json.loads(result.stdout)["train"]["version"] == "8"


@pytest.mark.parametrize("kind", ["429", "500", "drop", "drop-after", "slow"])
def test_faults_complete_or_fail_clearly_and_a_rerun_completes(repo: RepoBuilder, aml: AmlEmulator,
                                                                kind: str) -> None:
    locked_repo(repo, ["train", "score"])
    aml.inject("PUT", r"/environments/train/versions/", kind, times=1, seconds=1)
    aml.inject("GET", r"/environments/score/versions$", kind, times=1, seconds=1)
    wiring = aml.client_environment()
    first = run_cli(repo.root, "register", "--json", env=wiring)
    print(f"FAULT {kind}: first run exit {first.returncode}: {first.stderr.strip()[-200:]}")
    if first.returncode != 0:
        assert "envlock: error:" in first.stderr and "Traceback" not in first.stderr
        rerun = run_cli(repo.root, "register", "--json", env=wiring)
        assert rerun.returncode == 0, rerun.stderr
    assert _versions_in(aml, "train") == ["1"] and _versions_in(aml, "score") == ["1"]
    final = run_cli(repo.root, "register", "--json", env=wiring)
    assert {e["status"] for e in json.loads(final.stdout).values()} == {"unchanged"}


def test_conflict_on_the_chosen_number_moves_to_the_next(repo: RepoBuilder, aml: AmlEmulator) -> None:
    """Another writer takes the number between our list and our PUT: we never overwrite it."""
    locked_repo(repo, ["train"])
    from envlock.commands.register import draft_version, register_one
    from envlock.fresh_render import rendered_for
    from envlock.registries import EnvironmentVersion, open_registry
    from envlock.repo import Repo

    registry = open_registry(aml.workspace_url, repo.root)
    intruder = EnvironmentVersion("train", "1", ImageWithConda("someone/else:1", "dependencies: [python]\n"),
                                  tags={"envlock.lock-sha256": "f" * 64})
    original_create = registry.create_version
    calls = []

    def create_after_intruder(draft: EnvironmentVersion) -> EnvironmentVersion:
        if not calls:
            original_create(intruder)
        calls.append(draft.version)
        return original_create(draft)

    registry.create_version = create_after_intruder  # type: ignore[method-assign]
    draft = draft_version(rendered_for(Repo(repo.root), ["train"])[0], None)
    result = register_one(registry, draft)
    assert (result.version, result.status) == ("2", "created")
    assert calls == ["1", "2"]
    intruder_stored = registry.get_version("train", "1")
    assert intruder_stored is not None and intruder_stored.same_content(intruder)


def test_race_against_the_emulator(repo: RepoBuilder, aml: AmlEmulator) -> None:
    names = [f"env{i}" for i in range(3)]
    locked_repo(repo, names)
    outcomes = _race(repo.root, aml.client_environment())
    assert all(o.returncode == 0 for o in outcomes), [o.stderr for o in outcomes]
    for name in names:
        assert _versions_in(aml, name) == ["1"]
    assert not aml.requests_matching("PUT", r"/versions/2$")


def test_a_workspace_that_keeps_failing_is_a_clear_error(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_repo(repo, ["train"])
    wiring = aml.client_environment()
    wiring["ENVLOCK_REGISTRY"] = wiring["ENVLOCK_REGISTRY"].replace("ws-envlock", "ws-other")
    aml.inject("GET", r"/environments/train/versions$", "500", times=20)
    result = run_cli(repo.root, "register", env=wiring)
    assert result.returncode == 4  # a service that keeps failing is unreachable, not a finding
    assert "envlock: error:" in result.stderr and "500" in result.stderr
    assert "Traceback" not in result.stderr


def test_workspace_from_config_json(repo: RepoBuilder, aml: AmlEmulator) -> None:
    """`--registry azureml` finds the workspace the way MLClient.from_config does."""
    locked_repo(repo, ["train"])
    from tests.support.aml_emulator import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

    (repo.root / "config.json").write_text(json.dumps({
        "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "workspace_name": WORKSPACE}))
    wiring = {k: v for k, v in aml.client_environment().items() if k != "ENVLOCK_REGISTRY"}
    result = run_cli(repo.root, "register", "--registry", "azureml", "--json", env=wiring)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["train"]["status"] == "created"
    assert _versions_in(aml, "train") == ["1"]


# ---------------------------------------------------------------- trust content, not tags; one at a time


def test_a_version_tagged_with_the_lock_but_edited_is_refused_and_reported(repo: RepoBuilder) -> None:
    from dataclasses import replace

    from envlock.fresh_render import rendered_for
    from envlock.kinds import ImageWithConda
    from envlock.registries import open_registry
    from envlock.repo import Repo
    from envlock.trust import rendered_content

    locked_repo(repo, ["train"])
    version = rendered_content(rendered_for(Repo(repo.root), ["train"])[0])
    assert isinstance(version.content, ImageWithConda)
    edited = ImageWithConda(version.content.image, version.content.conda_file.replace("numpy=", "numpy-base="))
    open_registry(None, repo.root).create_version(  # what `az ml environment create` of an edited file makes
        replace(version, version="1", content=edited))
    jobs = repo.root / "jobs"
    jobs.mkdir()
    (jobs / "train.yml").write_text("command: python train.py\nenvironment: azureml:train:1\n")

    result = repo.run("register", "--json")
    assert result.exit_code == 1
    assert registered(result.stdout)["train"]["status"] == "refused"
    assert "train:1 carries this lock's hash but its content differs" in result.stderr
    found = json.loads(repo.run("preflight", "--json").stdout)
    assert [(f["file"], f["line"], f["kind"]) for f in found] == [("jobs/train.yml", 2, "edited-version")]
    pinned = repo.run("pin")  # never points a job at the edited version
    assert pinned.exit_code == 1 and "no registered version matches" in pinned.stderr


def test_an_archived_version_of_the_lock_is_restored_on_request(repo: RepoBuilder) -> None:
    from envlock.registries import open_registry

    locked_repo(repo, ["train"])
    assert repo.run("register").exit_code == 0
    registry = open_registry(None, repo.root)
    registry.set_archived("train", "1", True)
    refused = repo.run("register", "--json")
    assert refused.exit_code == 1
    assert "train:1 holds this lock but is archived; run envlock register train --restore" in refused.stderr
    restored = repo.run("register", "--restore", "--json")
    assert restored.exit_code == 0, restored.output
    entry = registered(restored.stdout)["train"]
    assert (entry["version"], entry["status"], entry["reference"]) == ("1", "restored", "azureml:train:1")
    assert registry.get_version("train", "1").archived is False  # type: ignore[union-attr]
    assert [v.version for v in registry.list_versions("train")] == ["1"]


def test_register_registers_the_valid_environments_and_reports_the_rest(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train"])
    repo.env("unlocked", conda=conda_env())
    repo.env("broken", env_yml="name: broken\nimage: x\nconda_file: nowhere.yaml\n")
    result = repo.run("register", "--json")
    assert result.exit_code == 1
    statuses = {name: entry["status"] for name, entry in registered(result.stdout).items()}
    assert statuses == {"train": "created", "unlocked": "failed", "broken": "failed"}
    assert "the lock is missing; run envlock lock unlocked" in result.stderr
    assert "environments/broken/env.yml:3 (field 'conda_file'): conda file 'nowhere.yaml' not found" in result.stderr


# ---------------------------------------------------------------- at scale: concurrency, history, cloud metadata


def _seed_history(aml: AmlEmulator, name: str, count: int) -> None:
    """Versions 1..count of `name`, registered long ago from other locks."""
    from tests.support.aml_emulator import WORKSPACE_SCOPE, Version

    with aml.lock:
        for number in range(1, count + 1):
            properties = {"image": "img", "condaFile": f"name: {name}\n", "isArchived": False, "isAnonymous": False,
                          "tags": {"envlock.lock-sha256": f"{number:064x}"}, "properties": {}}
            aml.state.versions[(WORKSPACE_SCOPE, name, str(number))] = Version(
                WORKSPACE_SCOPE, name, str(number), properties, f"2020-01-01T00:00:{number:02d}.000000Z")


def test_environments_register_concurrently_in_the_order_asked(repo: RepoBuilder, aml: AmlEmulator) -> None:
    from envlock.commands.register import run_register
    from envlock.registries import open_registry
    from envlock.repo import Repo

    names = [f"env{i:02d}" for i in range(14)]
    locked_copies(repo, names)
    asked = list(reversed(names))  # not the order of the folders
    aml.inject("GET", r"/environments/env\d+/versions$", "slow", times=len(names), seconds=0.3)
    results = run_register(Repo(repo.root), asked, open_registry(aml.workspace_url, repo.root), show_progress=False,
                           jobs=6)
    assert [(r.name, r.version, r.status) for r in results] == [(name, "1", "created") for name in asked]
    assert all(aml.version_numbers(name) == ["1"] for name in names)
    assert 2 <= aml.state.peak_in_flight <= 6  # several environments at once, never more than asked

    again = run_register(Repo(repo.root), asked, open_registry(aml.workspace_url, repo.root), show_progress=False)
    assert [(r.name, r.version, r.status) for r in again] == [(name, "1", "unchanged") for name in asked]


def test_unchanged_costs_the_same_requests_whatever_the_history(repo: RepoBuilder, aml: AmlEmulator) -> None:
    from envlock.commands.register import run_register
    from envlock.registries import open_registry
    from envlock.repo import Repo

    locked_copies(repo, ["fresh", "old"])
    _seed_history(aml, "old", 20)  # 10 pages of the emulator's 2 versions

    def requests_of(expected: dict[str, tuple[str, str]]) -> dict[str, int]:
        counts = {}
        for name, (version, status) in expected.items():
            before = len(aml.requests_matching())
            [result] = run_register(Repo(repo.root), [name], open_registry(aml.workspace_url, repo.root),
                                    show_progress=False)
            assert (result.version, result.status) == (version, status)
            counts[name] = len(aml.requests_matching()) - before  # every request, cloud metadata included
        return counts

    created = requests_of({"fresh": ("1", "created"), "old": ("21", "created")})
    assert created["old"] > created["fresh"]  # a change reads the whole history: no tag filter in AML
    unchanged = requests_of({"fresh": ("1", "unchanged"), "old": ("21", "unchanged")})
    assert unchanged == {"fresh": 1, "old": 1}


def test_cloud_metadata_is_read_once_per_process(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_copies(repo, ["train", "score", "serve"])
    result = run_cli(repo.root, "register", "--json", env=aml.client_environment())
    assert result.returncode == 0, result.stderr
    assert len(aml.requests_matching("GET", r"^/metadata/endpoints$")) == 1


@pytest.mark.parametrize("bundle", ["missing.pem", "envlock.yaml"])
def test_a_ca_bundle_that_is_not_one_is_bad_input_before_azure_is_asked(
        repo: RepoBuilder, aml: AmlEmulator, bundle: str) -> None:
    locked_repo(repo, ["train"])
    wiring = {**aml.client_environment(), "REQUESTS_CA_BUNDLE": str(repo.root / bundle)}
    before = len(aml.requests_matching(pattern="/"))
    result = run_cli(repo.root, "register", env=wiring)
    assert result.returncode == 2, result.stderr
    assert f"REQUESTS_CA_BUNDLE={repo.root / bundle}" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr and len(aml.requests_matching(pattern="/")) == before
