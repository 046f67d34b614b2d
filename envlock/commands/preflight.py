"""`envlock preflight`: check the environment references of job and pipeline YAML before they run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from envlock.errors import EnvlockError
from envlock.findings import Finding
from envlock.jobs import EnvironmentUse, environment_uses, job_files
from envlock.lockfile import read_header
from envlock.refs import EnvironmentRef, parse_reference
from envlock.registries import EnvironmentVersion, Registry
from envlock.repo import Repo

CURATED_PREFIX = "azureml-"


@dataclass
class RegistryView:
    """One read per distinct environment name, whatever the number of references."""

    registry: Registry | None
    cache: dict[str, dict[str, EnvironmentVersion]] = field(default_factory=dict)

    def versions(self, name: str) -> dict[str, EnvironmentVersion]:
        if name not in self.cache:
            assert self.registry is not None
            self.cache[name] = {v.version: v for v in self.registry.list_versions(name, archived_flag=True)}
        return self.cache[name]


def scan(repo: Repo, paths: list[Path]) -> list[EnvironmentUse]:
    return [use for path in job_files(repo.root, paths) for use in environment_uses(path)]


def run_preflight(repo: Repo, paths: list[Path], registry: Registry | None, *, strict: bool = False
                  ) -> tuple[list[EnvironmentUse], list[Finding]]:
    uses = scan(repo, paths)
    declared = set(repo.environment_names())
    view = RegistryView(registry)
    findings: list[Finding] = []
    for use in uses:
        findings += _check_use(repo, use, declared, view)
    findings += _pipeline_consistency(repo, uses, strict)
    return uses, findings


def _check_use(repo: Repo, use: EnvironmentUse, declared: set[str], view: RegistryView) -> list[Finding]:
    file = repo.relative(use.file)

    def finding(name: str, kind: str, message: str, fix: str, severity: str = "error") -> Finding:
        return Finding(name, kind, severity, file, message, fix, use.line)

    if use.value is None:
        return [finding("(inline)", "inline-environment",
                        f"{use.step} defines an inline (anonymous) environment, which nothing pins",
                        "declare it under environments/<name>/, lock and register it, and reference "
                        "azureml:<name>:<version>")]
    try:
        ref = parse_reference(use.value)
    except EnvlockError:
        return [finding(use.value, "bad-reference", f"'{use.value}' is not an environment reference",
                        "write azureml:<name>:<version>")]
    findings: list[Finding] = []
    if ref.registry is not None or ref.name.lower().startswith(CURATED_PREFIX):
        source = "curated" if ref.registry in (None, "azureml") else f"registry {ref.registry}"
        findings.append(finding(ref.name, "registry-environment",
                                f"'{use.value}' uses a {source} environment directly; it can change upstream",
                                f"envlock clone-curated {ref.name} then reference the owned azureml:<name>:<version>"))
    if ref.label is not None:
        findings.append(finding(ref.name, "floating-label",
                                f"'{use.value}' follows a label, so each run may get another version",
                                "reference an exact version: envlock pin"))
    if findings or ref.version is None:
        return findings
    if view.registry is None:
        return findings
    versions = view.versions(ref.name)
    stored = versions.get(ref.version)
    if stored is None:
        return [finding(ref.name, "missing-version", f"{use.value} does not exist in {view.registry.url}",
                        "envlock register, then envlock pin")]
    if stored.archived:
        findings.append(finding(ref.name, "archived-version", f"{use.value} is archived",
                                "envlock pin to the current version (or restore it)"))
    if ref.name not in declared:
        findings.append(finding(ref.name, "unmanaged", f"{ref.name} is not declared in environments/",
                                "envlock export " + f"{ref.name}:{ref.version} to manage it", "warning"))
        return findings
    header = read_header(repo.environments_dir / ref.name)
    current = header.recorded_lock_sha256 if header else None
    if current and stored.lock_sha256 != current:
        findings.append(finding(ref.name, "drift",
                                f"{use.value} was registered from lock {(stored.lock_sha256 or 'none')[:12]}, "
                                f"the repository's lock is {current[:12]}",
                                "envlock register, then envlock pin"))
    return findings


def _pipeline_consistency(repo: Repo, uses: list[EnvironmentUse], strict: bool) -> list[Finding]:
    versions: dict[tuple[str, str], dict[str, EnvironmentUse]] = defaultdict(dict)
    for use in uses:
        if use.pipeline is None or use.value is None:
            continue
        try:
            ref: EnvironmentRef = parse_reference(use.value)
        except EnvlockError:
            continue
        versions[(use.pipeline, ref.name)].setdefault(ref.version or ref.label or "", use)
    findings = []
    for (pipeline, name), by_version in versions.items():
        if len(by_version) > 1:
            first = min(by_version.values(), key=lambda u: u.line)
            listing = ", ".join(f"{v} ({u.step.rsplit('.', 1)[0]})" for v, u in sorted(by_version.items()))
            findings.append(Finding(name, "mixed-versions", "error" if strict else "warning",
                                    repo.relative(pipeline),
                                    f"steps of one pipeline use different versions of {name}: {listing}",
                                    "envlock pin to one version", first.line))
    return findings
