"""`envlock preflight`: check the environment references of job and pipeline YAML before they run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from envlock.errors import EnvlockError
from envlock.findings import Finding
from envlock.jobs import EnvironmentUse, LocalInstall, Scan, SkippedFile, scan_files
from envlock.lockfile import LockHeader, read_header
from envlock.refs import EnvironmentRef, parse_reference
from envlock.registries import EnvironmentVersion, Registry
from envlock.render import RenderedEnvironment
from envlock.repo import Repo
from envlock.trust import tampered

CURATED_PREFIX = "azureml-"
NO_ENVIRONMENT = "-"


@dataclass
class RegistryView:
    """One read per distinct environment name, whatever the number of references."""

    registry: Registry | None
    cache: dict[str, dict[str, EnvironmentVersion]] = field(default_factory=dict)
    headers: dict[str, LockHeader | None] = field(default_factory=dict)
    renders: dict[str, RenderedEnvironment | None] = field(default_factory=dict)

    def versions(self, name: str) -> dict[str, EnvironmentVersion]:
        if name not in self.cache:
            assert self.registry is not None
            self.cache[name] = {v.version: v for v in self.registry.list_versions(name, archived_flag=True)}
        return self.cache[name]

    def lock_header(self, repo: Repo, name: str) -> LockHeader | None:
        """The repository's lock header of `name`, read once however many jobs reference it."""
        if name not in self.headers:
            self.headers[name] = read_header(repo.environments_dir / name)
        return self.headers[name]

    def current_render(self, repo: Repo, name: str) -> RenderedEnvironment | None:
        """What the repository's lock of `name` renders to (None when it has no fresh lock)."""
        if name not in self.renders:
            from envlock.fresh_render import rendered_for

            try:
                self.renders[name] = rendered_for(repo, [name])[0]
            except EnvlockError:
                self.renders[name] = None
        return self.renders[name]


@dataclass(frozen=True)
class PreflightResult:
    """The job files scanned and what preflight found in them."""

    scan: Scan
    findings: list[Finding]


def run_preflight(repo: Repo, paths: list[Path], registry: Registry | None, *, strict: bool = False
                  ) -> PreflightResult:
    found = scan_files(repo.root, paths)
    declared = set(repo.environment_names())
    view = RegistryView(registry)
    findings: dict[tuple[str, int | None, str, str], Finding] = {}
    # A component file is read on its own and again through each pipeline naming it: report it once.
    for use in found.uses:
        for finding in _check_use(repo, use, declared, view):
            findings.setdefault((finding.file, finding.line, finding.kind, finding.environment), finding)
    for install in found.installs:
        finding = _local_install(repo, install)
        findings.setdefault((finding.file, finding.line, finding.kind, finding.environment), finding)
    ordered = list(findings.values()) + _pipeline_consistency(repo, found.uses, strict)
    ordered += [_skipped(repo, skipped, strict) for skipped in found.skipped]
    return PreflightResult(found, sorted(ordered, key=lambda f: (f.file, f.line or 0, f.kind)))


def _skipped(repo: Repo, skipped: SkippedFile, strict: bool) -> Finding:
    return Finding(NO_ENVIRONMENT, "skipped-file", "error" if strict else "warning", repo.relative(skipped.file),
                   f"not scanned: the file {skipped.reason}",
                   "exclude it by naming the folders to scan, or correct it if it is a job file", skipped.line)


def _local_install(repo: Repo, install: LocalInstall) -> Finding:
    return Finding(NO_ENVIRONMENT, "local-install", "error", repo.relative(install.file),
                   f"{install.step} runs '{install.tool}', adding packages the environment's lock does not pin",
                   "add the packages to the environment's declaration, envlock lock and register it", install.line)


def _check_use(repo: Repo, use: EnvironmentUse, declared: set[str], view: RegistryView) -> list[Finding]:
    file = repo.relative(use.file)

    def finding(name: str, kind: str, message: str, fix: str, severity: str = "error") -> Finding:
        return Finding(name, kind, severity, file, message, fix, use.line)

    if use.value is None or use.is_file_reference:
        what = "an inline (anonymous) environment" if use.value is None else \
            f"an anonymous environment from '{use.value}'"
        return [finding("(inline)", "inline-environment", f"{use.step} defines {what}, which nothing pins",
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
    elif ref.version is None:
        findings.append(finding(ref.name, "no-version",
                                f"'{use.value}' names no version, which azure-ai-ml rejects",
                                f"reference an exact version, azureml:{ref.name}:<version> (envlock pin)"))
    if findings or view.registry is None:
        return findings
    assert ref.version is not None
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
    header = view.lock_header(repo, ref.name)
    current = header.recorded_lock_sha256 if header else None
    if current and stored.lock_sha256 != current:
        findings.append(finding(ref.name, "drift",
                                f"{use.value} was registered from lock {(stored.lock_sha256 or 'none')[:12]}, "
                                f"the repository's lock is {current[:12]}",
                                "envlock register, then envlock pin"))
    elif current:
        rendered = view.current_render(repo, ref.name)
        if rendered is not None and tampered(stored, rendered):
            findings.append(finding(ref.name, "edited-version",
                                    f"{use.value} carries the lock's hash but holds other content than the "
                                    "lock renders to (edited by hand?)",
                                    f"archive {ref.name}:{ref.version}, envlock register, then envlock pin"))
    return findings


def _pipeline_consistency(repo: Repo, uses: list[EnvironmentUse], strict: bool) -> list[Finding]:
    versions: dict[tuple[str, tuple[str, str]], dict[str, EnvironmentUse]] = defaultdict(dict)
    for use in uses:
        if use.pipeline is None or use.value is None:
            continue
        try:
            ref: EnvironmentRef = parse_reference(use.value)
        except EnvlockError:
            continue
        versions[(use.pipeline, ref.identity)].setdefault(ref.version or ref.label or "", use)
    findings = []
    for (pipeline, (_, name)), by_version in versions.items():
        if len(by_version) > 1:
            first = min(by_version.values(), key=lambda u: u.pipeline_line or u.line)
            listing = ", ".join(f"{v} ({u.step.rsplit('.', 1)[0]})" for v, u in sorted(by_version.items()))
            findings.append(Finding(name, "mixed-versions", "error" if strict else "warning",
                                    repo.relative(pipeline),
                                    f"steps of one pipeline use different versions of {name}: {listing}",
                                    "envlock pin to one version", first.pipeline_line or first.line))
    return findings
