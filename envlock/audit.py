"""Audit locked environments: known vulnerabilities (OSV) and yanked releases, with the smallest fix.

Every package of every platform of each lock is checked once per distinct (PyPI name, version)
across all environments; conda packages that are not Python projects are listed as not covered.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from envlock.advisories import AdvisorySource
from envlock.errors import EnvlockError
from envlock.lockfile import Lock, read_lock
from envlock.osv import LEVELS, Advisory, advisory_for, first_fixed_after
from envlock.pypi_names import pypi_name
from envlock.repo import Repo
from envlock.settings import AuditIgnore, Settings
from envlock.solvers.pip_uv import normalize_name
from envlock.spec import REQUIREMENTS_IN, EnvironmentSpec, load_environment, requirement_name
from envlock.yamlio import line_of_list_item
from envlock.yanked import YankedIndex

YANKED_SEVERITY = "medium"  # PEP 592 yanks are for broken or insecure releases; pip skips them


@dataclass(frozen=True)
class Target:
    """One locked package as it is checked: its PyPI name and version, on which platforms."""

    environment: str
    manager: str
    package: str
    pypi: str
    version: str
    platforms: tuple[str, ...]
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditFinding:
    """One advisory (or a yanked release) that applies to a locked package."""

    environment: str
    kind: str  # "vulnerability" or "yanked"
    manager: str
    package: str
    version: str
    platforms: tuple[str, ...]
    id: str
    aliases: tuple[str, ...]
    severity: str | None  # low, medium, high, critical; None when the record gives none
    severity_source: str | None
    summary: str
    fixed_in: str | None
    fix: str
    file: str  # the declaration to change, relative to the repository
    line: int | None
    url: str = ""
    ignore_expired: str | None = None  # the date an ignore in envlock.yaml ran out


@dataclass(frozen=True)
class IgnoredFinding:
    """A finding that envlock.yaml accepts, with its reason and end date."""

    finding: AuditFinding
    reason: str
    until: str


@dataclass(frozen=True)
class NotCovered:
    """A locked package the advisory source could not answer for."""

    environment: str
    package: str
    version: str


@dataclass(frozen=True)
class AuditReport:
    """What an audit found, ignored and could not check, and what it asked."""

    findings: tuple[AuditFinding, ...]
    ignored: tuple[IgnoredFinding, ...]
    not_covered: tuple[NotCovered, ...]
    checked: int  # distinct (PyPI name, version) pairs
    requests: int  # HTTP requests sent (advisory service and index)
    source: str
    environments: tuple[str, ...] = field(default=())


def at_or_above(finding: AuditFinding, level: str) -> bool:
    """A record without a severity is never assumed harmless: it counts at every level."""
    if finding.severity is None:
        return True
    return LEVELS.index(finding.severity) >= LEVELS.index(level)


def targets_of(lock: Lock) -> tuple[list[Target], list[NotCovered]]:
    merged: dict[tuple[str, str, str], Target] = {}
    uncovered: dict[tuple[str, str], NotCovered] = {}
    for package in lock.packages:
        name = pypi_name(package)
        if name is None:
            uncovered[(package.name, package.version)] = NotCovered(lock.name, package.name, package.version)
            continue
        key = (package.manager, package.name, package.version)
        hashes = package.hashes or ((package.sha256,) if package.sha256 else ())
        known = merged.get(key)
        if known is None:
            merged[key] = Target(lock.name, package.manager, package.name, name, package.version,
                                 (package.platform,), hashes if package.manager == "pip" else ())
        else:
            merged[key] = replace(known, platforms=(*known.platforms, package.platform),
                                  hashes=tuple(sorted({*known.hashes, *hashes})) if package.manager == "pip" else ())
    return sorted(merged.values(), key=lambda t: (t.package, t.version)), sorted(
        uncovered.values(), key=lambda n: (n.package, n.version))


def run_audit(repo: Repo, names: Sequence[str], settings: Settings, source: AdvisorySource, *,
              yanked_index: YankedIndex | None, today: datetime.date) -> AuditReport:
    specs = [load_environment(repo, name, settings) for name in names]
    locks = []
    for spec in specs:
        lock = read_lock(spec.name, spec.folder)
        if lock is None:
            raise EnvlockError(f"{spec.name} has no lock to audit; run envlock lock {spec.name}")
        locks.append((spec, lock))
    targets: list[Target] = []
    not_covered: list[NotCovered] = []
    for _, lock in locks:
        found, uncovered = targets_of(lock)
        targets += found
        not_covered += uncovered
    distinct = sorted({(t.pypi, t.version) for t in targets})
    matches = source.affecting(distinct)
    records = source.records({record_id for ids in matches.values() for record_id in ids})
    by_spec = {spec.name: spec for spec, _ in locks}
    findings: list[AuditFinding] = []
    for target in targets:
        spec = by_spec[target.environment]
        for record_id in matches[(target.pypi, target.version)]:
            advisory = advisory_for(records[record_id], target.pypi)
            findings.append(_vulnerability(repo, spec, target, advisory))
        if yanked_index is not None and target.manager == "pip":
            reason = yanked_index.yanked(target.pypi, target.version, target.hashes)
            if reason is not None:
                findings.append(_yanked(repo, spec, target, reason))
    kept, ignored = apply_ignores(findings, settings.audit.ignore, today)
    requests = source.requests + (yanked_index.requests if yanked_index is not None else 0)
    return AuditReport(tuple(kept), tuple(ignored), tuple(not_covered), len(distinct), requests, source.label,
                       tuple(names))


def apply_ignores(findings: list[AuditFinding], ignores: Sequence[AuditIgnore],
                  today: datetime.date) -> tuple[list[AuditFinding], list[IgnoredFinding]]:
    kept, ignored = [], []
    for finding in findings:
        names = {finding.id, *finding.aliases}
        entry = next((i for i in ignores if i.id in names), None)
        if entry is None:
            kept.append(finding)
        elif entry.until >= today:
            ignored.append(IgnoredFinding(finding, entry.reason, entry.until.isoformat()))
        else:
            kept.append(replace(finding, ignore_expired=entry.until.isoformat()))
    return kept, ignored


def _vulnerability(repo: Repo, spec: EnvironmentSpec, target: Target, advisory: Advisory) -> AuditFinding:
    fixed = first_fixed_after(advisory, target.version)
    fix, file, line = smallest_upgrade(repo, spec, target, fixed)
    return AuditFinding(
        spec.name, "vulnerability", target.manager, target.package, target.version, target.platforms,
        advisory.id, advisory.aliases, advisory.severity, advisory.severity_source, advisory.summary, fixed, fix,
        file, line, advisory.url,
    )


def _yanked(repo: Repo, spec: EnvironmentSpec, target: Target, reason: str) -> AuditFinding:
    relative, line, declared = _location(repo, spec, target)
    pinned = declared is not None and f"=={target.version}" in declared.replace(" ", "")
    fix = f"envlock lock {spec.name} -P {target.package}"
    if pinned:
        fix = f"change '{declared}' in {relative}:{line} to another release, then envlock lock {spec.name}"
    summary = f"yanked from the index{': ' + reason if reason else ''}"
    return AuditFinding(
        spec.name, "yanked", target.manager, target.package, target.version, target.platforms,
        f"YANKED-{target.pypi}-{target.version}", (), YANKED_SEVERITY, "PEP 592 yank", summary, None, fix,
        relative, line,
    )


def smallest_upgrade(repo: Repo, spec: EnvironmentSpec, target: Target,
                     fixed: str | None) -> tuple[str, str, int | None]:
    """(fix, declaration file, line): `envlock lock -P` when the declaration allows the fixed
    version (or does not name the package), else the declaration line to change."""
    relative, line, declared = _location(repo, spec, target)
    relock = f"envlock lock {spec.name} -P {target.package}"
    if fixed is None:
        return (f"no fixed version is known: replace {target.package} or ignore the advisory with a reason "
                f"in envlock.yaml"), relative, line
    if declared is None:
        return (f"{relock} (a dependency; if it stays below {fixed}, declare {target.package}>={fixed} in "
                f"{relative})"), relative, line
    if _allows(declared, target.manager, fixed):
        return relock, relative, line
    where = f"{relative}:{line}" if line else relative
    return (f"change '{declared}' in {where} to allow {target.package} {fixed} or later, "
            f"then envlock lock {spec.name}"), relative, line


def _location(repo: Repo, spec: EnvironmentSpec, target: Target) -> tuple[str, int | None, str | None]:
    """The declaration file, the line naming the package (or its section), and that requirement."""
    path, declared = _declaration_of(spec, target)
    line = line_of_list_item(path, declared) if declared else None
    if line is None and path.suffix in (".yaml", ".yml"):
        line = line_of_list_item(path, "pip:" if target.manager == "pip" else "dependencies:")
    return repo.relative(path), line, declared


def _declaration_of(spec: EnvironmentSpec, target: Target) -> tuple[Path, str | None]:
    if target.manager == "conda":
        declared = next((d for d in spec.conda_dependencies if requirement_name(d) == target.package), None)
        return spec.conda_file or spec.env_file, declared
    path = spec.conda_file or (spec.folder / REQUIREMENTS_IN)
    declared = next((d for d in spec.pip_dependencies if normalize_name(requirement_name(d)) == target.pypi), None)
    return path, declared


def _allows(declared: str, manager: str, fixed: str) -> bool:
    if manager == "conda":
        try:
            from rattler import MatchSpec, Version, VersionSpec
        except ImportError:  # without envlock[lock] the spec cannot be read; relocking needs it anyway
            return True

        version = MatchSpec(declared, strict=False).version
        return version is None or VersionSpec(version).matches(Version(fixed))
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(declared)
    except InvalidRequirement:
        return False
    return not requirement.url and requirement.specifier.contains(fixed, prereleases=True)
