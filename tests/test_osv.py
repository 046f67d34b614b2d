"""OSV record evaluation on real PyPA records: ranges, explicit versions, severity."""

from __future__ import annotations

from envlock.lockfile import LockedPackage
from envlock.osv import OfflineDatabase, advisory_for, affects, cvss3_base_score, first_fixed_after, level_of_score
from envlock.pypi_names import pypi_name
from tests.support.osv_server import FIXTURE_DB

DATABASE = OfflineDatabase.load(FIXTURE_DB / "vulns" / "urllib3")
PY = OfflineDatabase.load(FIXTURE_DB / "vulns" / "py")


def test_the_first_fixed_version_is_not_affected() -> None:
    record = DATABASE.by_id["PYSEC-2019-133"]  # introduced 0, fixed 1.24.2
    assert affects(record, "urllib3", "1.24.1")
    assert not affects(record, "urllib3", "1.24.2")
    assert not affects(record, "urllib3", "1.25")
    assert affects(record, "URLLib3", "1.24.1")  # names compare normalized
    assert not affects(record, "requests", "1.24.1")


def test_last_affected_includes_itself_and_explicit_versions_count() -> None:
    record = PY.by_id["PYSEC-2022-42969"]  # introduced 0, last_affected 1.11.0
    assert affects(record, "py", "1.11.0")
    assert not affects(record, "py", "1.11.1")
    assert affects(record, "py", "0.8.0-alpha2")  # listed explicitly; also in the range


def test_fixed_versions_and_the_smallest_one_above_the_lock() -> None:
    advisory = advisory_for(DATABASE.by_id["PYSEC-2023-192"], "urllib3")  # fixed on two release lines
    assert advisory.fixed == ("1.26.17", "2.0.6")
    assert first_fixed_after(advisory, "1.25.0") == "1.26.17"
    assert first_fixed_after(advisory, "2.0.0") == "2.0.6"
    assert advisory.aliases == ("CVE-2023-43804", "GHSA-v845-jxx5-vc9f")


def test_cvss_vectors_become_levels() -> None:
    # reference scores from FIRST's CVSS v3.1 calculator
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N") == 5.3
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N") == 6.4
    assert cvss3_base_score("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == 0.0
    assert cvss3_base_score("not a vector") is None
    assert [level_of_score(s) for s in (9.8, 7.0, 5.3, 0.1, 0.0)] == ["critical", "high", "medium", "low", None]
    assert advisory_for({"id": "X", "database_specific": {"severity": "MODERATE"}}, "x").severity == "medium"


def test_conda_packages_map_to_pypi_names_only_when_they_are_python_projects() -> None:
    def conda(name: str, *depends: str) -> LockedPackage:
        return LockedPackage("conda", name, "1.0", "linux-64", "", None,
                             dependencies=tuple((d, "*") for d in depends))

    assert pypi_name(conda("pytorch", "python", "numpy")) == "torch"
    assert pypi_name(conda("py-xgboost", "python_abi")) == "xgboost"
    assert pypi_name(conda("python-tzdata", "python")) == "tzdata"
    assert pypi_name(conda("scipy", "python_abi", "libgcc-ng")) == "scipy"
    assert pypi_name(conda("openssl", "libgcc-ng")) is None
    assert pypi_name(conda("python", "openssl")) is None
    assert pypi_name(LockedPackage("pip", "PyYAML", "6.0", "linux-64", "", None)) == "pyyaml"
