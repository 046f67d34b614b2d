"""The audit as a gate: register refuses vulnerable locks; preflight --audit reports them."""

from __future__ import annotations

import json

from tests.conftest import RepoBuilder
from tests.support.osv_server import OsvEmulator

OLD_SETUPTOOLS = "channels: [conda-forge]\ndependencies:\n  - python=3.9.*=*_cpython\n  - setuptools=58\n"


def vulnerable_repo(repo: RepoBuilder, osv: OsvEmulator, extra: str = "") -> RepoBuilder:
    repo.settings(f"audit_url: {osv.url}\n{extra}")
    repo.env("train", conda=OLD_SETUPTOOLS)
    assert repo.run("lock").exit_code == 0
    return repo


def test_register_refuses_findings_at_or_above_fail_on(repo: RepoBuilder, osv: OsvEmulator) -> None:
    vulnerable_repo(repo, osv)
    plain = repo.run("register", "--dry-run")  # no --fail-on and no audit.fail_on: no audit, no request
    assert plain.exit_code == 0 and osv.requests == []
    refused = repo.run("register", "--fail-on", "high")
    assert refused.exit_code == 1
    assert "refusing to register: 1 audit finding(s) at or above high" in refused.stderr
    assert "PYSEC-2022-43012" in refused.stderr and "--allow-vulnerable" in refused.stderr
    assert json.loads(repo.run("versions", "train", "--json").stdout) == []
    allowed = repo.run("register", "--fail-on", "high", "--allow-vulnerable", "--json")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["train"]["status"] == "created"


def test_fail_on_and_ignores_from_envlock_yaml(repo: RepoBuilder, osv: OsvEmulator) -> None:
    vulnerable_repo(repo, osv, "audit:\n  fail_on: medium\n")
    assert repo.run("register").exit_code == 1
    repo.settings(f"audit_url: {osv.url}\naudit:\n  fail_on: medium\n  ignore:\n"
                  "    - {id: CVE-2022-40897, reason: no package index is crawled, until: 2999-12-31}\n")
    result = repo.run("register", "--json")
    assert result.exit_code == 0, result.output


def test_preflight_audits_the_environments_jobs_use(repo: RepoBuilder, osv: OsvEmulator) -> None:
    vulnerable_repo(repo, osv)
    repo.env("other", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n")
    assert repo.run("lock").exit_code == 0
    (repo.root / "jobs").mkdir()
    (repo.root / "jobs" / "train.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: python train.py\nenvironment: azureml:train:1\ncompute: azureml:cpu\n")
    result = repo.run("preflight", "--offline", "--audit", "--json")
    assert result.exit_code == 1, result.output
    audit = [f for f in json.loads(result.stdout) if f["kind"].startswith("audit-")]
    assert [(f["environment"], f["severity"], f["file"]) for f in audit] == [
        ("train", "error", "environments/train/conda.yaml")]
    assert "PYSEC-2022-43012" in audit[0]["message"] and audit[0]["fix"].startswith("change 'setuptools=58'")
    queried = {name for name, _ in osv.queried_packages()}
    assert "setuptools" in queried and len(osv.queried_packages()) == len(set(osv.queried_packages()))
