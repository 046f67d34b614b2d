"""envlock audit: real PyPA advisories served by an OSV emulator and read as an offline export."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from envlock.commands.audit import audit_repo
from envlock.repo import Repo
from tests.conftest import RepoBuilder
from tests.support.osv_server import FIXTURE_DB, OsvEmulator
from tests.support.simple_index import IndexFile, SimpleIndex

LEGACY = """\
channels: [conda-forge]
dependencies:
  - python=3.9.*=*_cpython
  - scipy=1.7
  - setuptools=58
  - pip
  - pip:
      - requests==2.19.0
      - jinja2==2.10
      - pyyaml==5.3
"""
EDGE_PINNED = """\
channels: [conda-forge]
dependencies:
  - python=3.9.*=*_cpython
  - scipy=1.7.3
  - setuptools=58.5.3
  - pip
  - pip:
      - requests==2.20.0
      - urllib3==1.24.1
      - jinja2==2.10
      - pyyaml==5.3
"""
# The same environment declared with ranges: the lock keeps its pins until `-P` moves them.
EDGE_RANGES = EDGE_PINNED.replace("scipy=1.7.3", "scipy>=1.7").replace("setuptools=58.5.3", "setuptools>=58") \
    .replace("requests==2.20.0", "requests>=2.20").replace("urllib3==1.24.1", "urllib3>=1.24") \
    .replace("jinja2==2.10", "jinja2>=2.10").replace("pyyaml==5.3", "pyyaml>=5.3")

# What the PyPA records (tests/fixtures/osv-pypa-2024-10) say about these versions.
URLLIB3_1_23 = {"PYSEC-2019-132", "PYSEC-2019-133", "PYSEC-2020-148", "PYSEC-2021-108", "PYSEC-2023-192",
                "PYSEC-2023-207", "PYSEC-2023-212"}
EXPECTED = {
    ("legacy", "requests", "2.19.0"): {"PYSEC-2018-28", "PYSEC-2023-74"},
    ("legacy", "urllib3", "1.23"): URLLIB3_1_23,
    ("legacy", "idna", "2.7"): {"PYSEC-2024-60"},
    ("legacy", "jinja2", "2.10"): {"PYSEC-2019-217", "PYSEC-2021-66"},
    ("legacy", "pyyaml", "5.3"): {"PYSEC-2020-96", "PYSEC-2021-142"},
    ("legacy", "scipy", "1.7.3"): {"PYSEC-2023-102", "PYSEC-2023-114"},
    ("legacy", "setuptools", "58.5.3"): {"PYSEC-2022-43012"},
    # 2.20.0 is the first fixed version of PYSEC-2018-28: not reported
    ("edge", "requests", "2.20.0"): {"PYSEC-2023-74"},
    ("edge", "urllib3", "1.24.1"): URLLIB3_1_23,
    ("edge", "idna", "2.7"): {"PYSEC-2024-60"},
    ("edge", "jinja2", "2.10"): {"PYSEC-2019-217", "PYSEC-2021-66"},
    ("edge", "pyyaml", "5.3"): {"PYSEC-2020-96", "PYSEC-2021-142"},
    ("edge", "scipy", "1.7.3"): {"PYSEC-2023-102", "PYSEC-2023-114"},
    ("edge", "setuptools", "58.5.3"): {"PYSEC-2022-43012"},
}
UPGRADED = ("requests", "urllib3", "jinja2", "pyyaml", "scipy", "setuptools", "idna")


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two Python 3.9 environments with known-vulnerable versions, locked once for the module."""
    builder = RepoBuilder(tmp_path_factory.mktemp("audit"))
    (builder.root / "environments").mkdir()
    builder.settings()
    builder.env("legacy", conda=LEGACY)
    builder.env("edge", conda=EDGE_PINNED)
    result = builder.run("lock")
    assert result.exit_code == 0, result.output
    (builder.root / "environments" / "edge" / "conda.yaml").write_text(EDGE_RANGES)
    result = builder.run("lock", "edge")
    assert result.exit_code == 0, result.output
    return builder.root


@pytest.fixture
def audited(locked: Path, tmp_path: Path) -> Iterator[RepoBuilder]:
    """A fresh copy of the locked repository (its own cache and settings)."""
    root = tmp_path / "repo"
    shutil.copytree(locked, root)
    yield RepoBuilder(root)


def use_service(repo: RepoBuilder, osv: OsvEmulator, extra: str = "") -> None:
    repo.settings(f"audit_url: {osv.url}\n{textwrap.dedent(extra)}")


def found(document: dict) -> dict[tuple[str, str, str], set[str]]:  # type: ignore[type-arg]
    result: dict[tuple[str, str, str], set[str]] = {}
    for finding in document["findings"]:
        result.setdefault((finding["environment"], finding["package"], finding["version"]), set()).add(finding["id"])
    return result


def test_service_reports_the_exact_advisories_of_the_records(audited: RepoBuilder, osv: OsvEmulator) -> None:
    use_service(audited, osv)
    osv.inject(429, 500)
    result = audited.run("audit", "--json", "--no-yanked")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert found(document) == EXPECTED
    # the 429 and the 500 were retried: the same first batch was sent three times
    assert osv.requests[0][2] == osv.requests[1][2] == osv.requests[2][2] == osv.answered[0][2]
    assert any(q.get("page_token") for _, _, body in osv.requests if body for q in body["queries"])
    # one query per distinct (package, version) across both environments, however many pages
    queried = osv.queried_packages()
    assert len(queried) == len(set(queried)) == document["checked"]
    assert document["requests"] == len(osv.requests)
    requests_finding = next(f for f in document["findings"]
                            if f["id"] == "PYSEC-2023-74" and f["environment"] == "edge")
    assert requests_finding["aliases"] == ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]
    assert requests_finding["fixed_in"] == "2.31.0"
    assert requests_finding["fix"] == "envlock lock edge -P requests"
    assert requests_finding["file"] == "environments/edge/conda.yaml" and requests_finding["line"] == 8
    pinned = next(f for f in document["findings"] if f["id"] == "PYSEC-2023-74" and f["environment"] == "legacy")
    assert pinned["fix"] == ("change 'requests==2.19.0' in environments/legacy/conda.yaml:8 to allow requests "
                             "2.31.0 or later, then envlock lock legacy")
    cvss = next(f for f in document["findings"] if f["id"] == "PYSEC-2023-192")
    assert cvss["severity"] == "high" and cvss["severity_source"].startswith("CVSS:3.1/")
    uncovered = {(n["environment"], n["package"]) for n in document["not_covered"]}
    assert ("legacy", "openssl") in uncovered and ("legacy", "scipy") not in uncovered


def test_offline_export_gives_the_same_findings(audited: RepoBuilder, osv: OsvEmulator, tmp_path: Path) -> None:
    use_service(audited, osv)
    online = json.loads(audited.run("audit", "--json", "--no-yanked").stdout)
    offline = audited.run("audit", "--json", "--no-yanked", "--offline-db", str(FIXTURE_DB))
    assert offline.exit_code == 1
    document = json.loads(offline.stdout)
    assert document["findings"] == online["findings"] and document["not_covered"] == online["not_covered"]
    assert document["requests"] == 0
    # OSV's per-ecosystem export is JSON: the same records as JSON files give the same findings too
    export = tmp_path / "export"
    export.mkdir()
    for path in FIXTURE_DB.rglob("*.yaml"):
        record = yaml.safe_load(path.read_text())
        (export / f"{record['id']}.json").write_text(json.dumps(record, default=str))
    as_json = json.loads(audited.run("audit", "--json", "--no-yanked", "--offline-db", str(export)).stdout)
    assert as_json["findings"] == online["findings"]


def test_upgrades_remove_the_findings(audited: RepoBuilder) -> None:
    update = [arg for name in UPGRADED for arg in ("-P", name)]
    result = audited.run("lock", "edge", *update)
    assert result.exit_code == 0, result.output
    result = audited.run("audit", "edge", "--json", "--no-yanked", "--offline-db", str(FIXTURE_DB))
    document = json.loads(result.stdout)
    assert [f for f in document["findings"] if f["package"] in UPGRADED] == []
    assert result.exit_code == 0, result.output


def test_answers_are_cached_for_a_day(audited: RepoBuilder, osv: OsvEmulator) -> None:
    use_service(audited, osv)
    repo = Repo(audited.root)
    now = time.time()
    first = audit_repo(repo, ["legacy", "edge"], check_yanked=False, now=now)
    sent = len(osv.requests)
    assert first.requests == sent > 0
    again = audit_repo(repo, ["legacy", "edge"], check_yanked=False, now=now + 3600)
    assert again.requests == 0 and len(osv.requests) == sent
    assert again.findings == first.findings
    later = audit_repo(repo, ["legacy"], check_yanked=False, now=now + 25 * 3600)
    assert later.requests > 0


def test_ignores_need_a_reason_and_expire(audited: RepoBuilder, osv: OsvEmulator) -> None:
    use_service(audited, osv, """\
        audit:
          ignore:
            - {id: CVE-2023-32681, reason: proxies are not used, until: 2999-01-01}
            - {id: PYSEC-2022-43012, reason: build-time only, until: 2020-01-01}
        """)
    document = json.loads(audited.run("audit", "--json", "--no-yanked").stdout)
    ids = {f["id"] for f in document["findings"]}
    assert "PYSEC-2023-74" not in ids
    assert {(i["finding"]["id"], i["reason"]) for i in document["ignored"]} == {
        ("PYSEC-2023-74", "proxies are not used")}
    expired = [f for f in document["findings"] if f["id"] == "PYSEC-2022-43012"]
    assert expired and all(f["ignore_expired"] == "2020-01-01" for f in expired)

    before = audited.snapshot()
    use_service(audited, osv, "audit:\n  ignore:\n    - {id: PYSEC-2023-74, until: 2999-01-01}\n")
    before["envlock.yaml"] = (audited.root / "envlock.yaml").read_bytes()
    result = audited.run("audit")
    assert result.exit_code == 2
    assert "envlock.yaml:6 (field 'audit.ignore[0].reason')" in result.stderr and "fix:" in result.stderr
    assert audited.snapshot() == before
    use_service(audited, osv, "audit:\n  ignore:\n    - {id: PYSEC-2023-74, reason: x, until: soon}\n")
    result = audited.run("audit")
    assert result.exit_code == 2 and "'until' must be a date" in result.stderr


def test_fail_on_level_and_sarif(audited: RepoBuilder, osv: OsvEmulator) -> None:
    use_service(audited, osv)
    low = json.loads(audited.run("audit", "--json", "--no-yanked").stdout)
    high = audited.run("audit", "--json", "--no-yanked", "--fail-on", "high")
    assert high.exit_code == 1
    counted = json.loads(high.stdout)
    unknown_or_high = [f for f in low["findings"] if f["severity"] in (None, "high", "critical")]
    assert counted["failed"] == len(unknown_or_high) < low["failed"] == len(low["findings"])

    result = audited.run("audit", "legacy", "--no-yanked", "--sarif", "audit.sarif")
    assert result.exit_code == 1
    assert "PYSEC-2023-74" in result.stdout and "not covered" in result.stderr and "openssl" in result.stderr
    sarif = json.loads((audited.root / "audit.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"] == "envlock"
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif["runs"][0]["results"]}
    assert ("PYSEC-2023-74", "environments/legacy/conda.yaml", 8) in located
    assert ("PYSEC-2023-114", "environments/legacy/conda.yaml", 4) in located
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules == {r[0] for r in located}


def test_yanked_release_is_a_finding(audited: RepoBuilder, osv: OsvEmulator, simple_index: SimpleIndex) -> None:
    lock = yaml.safe_load((audited.root / "environments" / "legacy" / "conda-lock.yml").read_text())
    jinja = next(p for p in lock["package"] if p["name"] == "jinja2" and p["platform"] == "linux-64")
    locked_file = jinja["url"].rsplit("/", 1)[-1]
    simple_index.projects = {
        "jinja2": [IndexFile(locked_file, jinja["hash"]["sha256"], "broken metadata"),
                   IndexFile("Jinja2-2.11.0-py2.py3-none-any.whl", "0" * 64)],
    }
    use_service(audited, osv, f"pip_index_url: {simple_index.url}\n")
    document = json.loads(audited.run("audit", "legacy", "--json").stdout)
    yanked = [f for f in document["findings"] if f["kind"] == "yanked"]
    assert [(f["package"], f["version"], f["summary"]) for f in yanked] == [
        ("jinja2", "2.10", "yanked from the index: broken metadata")]
    assert "environments/legacy/conda.yaml:9" in yanked[0]["fix"]
    # an index without PEP 691 answers HTML with data-yanked; the verdict is the same
    simple_index.html_only = True
    (audited.root / ".envlock" / "audit-cache.sqlite").unlink()
    document = json.loads(audited.run("audit", "legacy", "--json").stdout)
    assert [f["package"] for f in document["findings"] if f["kind"] == "yanked"] == ["jinja2"]
    assert any(path == "/simple/jinja2/" for path in simple_index.requests)


def test_unreachable_service_is_a_clear_error(audited: RepoBuilder) -> None:
    audited.settings("audit_url: http://127.0.0.1:9\n")
    result = audited.run("audit", "--no-yanked")
    assert result.exit_code == 4  # a service could not be reached
    assert "cannot reach the advisory service" in result.stderr and "--offline-db" in result.stderr
    assert "Traceback" not in result.output


def test_bad_offline_export_is_bad_input(audited: RepoBuilder, tmp_path: Path) -> None:
    missing = audited.run("audit", "--offline-db", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_DB / "vulns" / "requests", export)
    (export / "PYSEC-0000-1.json").write_text("{not json")
    broken = audited.run("audit", "--offline-db", str(export))
    assert broken.exit_code == 2 and "PYSEC-0000-1.json" in broken.stderr and "not an OSV record" in broken.stderr
    assert "Traceback" not in broken.output
