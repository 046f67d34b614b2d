"""envlock sbom: CycloneDX (validated by the library's own schema) and SPDX, reproduced from the registry."""

from __future__ import annotations

import json
import subprocess

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from envlock.hashing import sha256_text
from tests.conftest import DIGEST_IMAGE, RepoBuilder

CONDA_AND_PIP = """\
channels: [conda-forge]
dependencies:
  - python=3.10
  - numpy<2
  - pip
  - pip:
      - six==1.16.0
"""


def git(repo: RepoBuilder, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo.root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   check=True, capture_output=True)


def test_cyclonedx_lists_every_package_and_validates(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_AND_PIP)
    assert repo.run("lock").exit_code == 0
    result = repo.run("sbom", "train")
    assert result.exit_code == 0, result.output
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(result.stdout) is None
    document = json.loads(result.stdout)
    assert document["specVersion"] == "1.6" and "timestamp" not in document["metadata"]
    lock = __import__("yaml").safe_load((repo.root / "environments/train/conda-lock.yml").read_text())
    locked = {(p["manager"], p["name"], p["version"], p["hash"]["sha256"])
              for p in lock["package"] if p["platform"] == "linux-64"}
    components = {c["purl"]: c for c in document["components"] if c["type"] == "library"}
    listed = {("conda" if purl.startswith("pkg:conda/") else "pip", c["name"], c["version"],
               next(h["content"] for h in c["hashes"] if h["alg"] == "SHA-256")) for purl, c in components.items()}
    assert listed == locked
    numpy = next(p for p in lock["package"] if p["name"] == "numpy" and p["platform"] == "linux-64")
    assert f"pkg:conda/conda-forge/numpy@{numpy['version']}?build={numpy['build']}&subdir=linux-64" in components
    assert "pkg:pypi/six@1.16.0" in components
    image = next(c for c in document["components"] if c["type"] == "container")
    assert image["version"] == DIGEST_IMAGE.split("@")[1] and image["hashes"][0]["content"] == "ab" * 32
    properties = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert properties["envlock:lock-sha256"] == lock["metadata"]["custom_metadata"]["envlock.lock-sha256"]
    assert repo.run("sbom", "train").stdout == result.stdout  # no random serial number, no timestamp

    spdx = json.loads(repo.run("sbom", "train", "--format", "spdx").stdout)
    assert spdx["spdxVersion"] == "SPDX-2.3"
    assert {p["name"] for p in spdx["packages"]} >= {name for _, name, _, _ in locked}
    wrong = repo.run("sbom", "train", "--platform", "osx-arm64")
    assert wrong.exit_code == 2 and "not locked for osx-arm64" in wrong.stderr


def test_register_stores_the_sbom_hash_and_the_registry_reproduces_it(repo: RepoBuilder) -> None:
    repo.env("train", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy<2\n")
    assert repo.run("lock").exit_code == 0
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train")
    original = repo.run("sbom", "train").stdout
    assert repo.run("register").exit_code == 0
    assert _tag(repo) == sha256_text(original)
    reproduced = repo.run("sbom", "azureml:train:1", "-o", "train.cdx.json")
    assert reproduced.exit_code == 0, reproduced.output
    assert (repo.root / "train.cdx.json").read_text() == original

    # the declaration moves on; the registered version's SBOM is rebuilt from git at its commit
    (repo.root / "environments/train/conda.yaml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - numpy<1.26\n")
    assert repo.run("lock").exit_code == 0
    assert repo.run("sbom", "train").stdout != original
    again = repo.run("sbom", "azureml:train:1")
    assert again.exit_code == 0, again.output
    assert again.stdout == original


def _tag(repo: RepoBuilder) -> str:
    import sqlite3

    row = sqlite3.connect(repo.root / ".envlock/registry.db").execute(
        "SELECT tags FROM environment_versions WHERE name = 'train' AND version = '1'").fetchone()
    return str(json.loads(row[0])["envlock.sbom-sha256"])
