"""`envlock audit`: check every locked package against OSV advisories and the index's yanked releases."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from envlock.advisories import DEFAULT_AUDIT_URL, AdvisorySource, OfflineSource, OsvService
from envlock.audit import AuditReport, at_or_above, run_audit
from envlock.errors import EnvlockError
from envlock.findings import Finding
from envlock.repo import Repo
from envlock.settings import Settings, load_settings
from envlock.yanked import YankedIndex

CACHE_FOLDER = ".envlock"
DEFAULT_FAIL_ON = "low"


def cache_folder(repo: Repo) -> Path:
    """.envlock/ in the repository; a link taking it elsewhere is refused (exit 2)."""
    from envlock.fsutil import safe_path

    return safe_path(repo.root, repo.root / CACHE_FOLDER)


def advisory_source(repo: Repo, settings: Settings, offline_db: Path | None, now: float) -> AdvisorySource:
    """--offline-db, else audit_url in envlock.yaml, else the public OSV API; answers cached in .envlock/."""
    if offline_db is not None:
        return OfflineSource(offline_db)
    return OsvService(settings.audit_url or DEFAULT_AUDIT_URL, cache_folder(repo), now=now)


def audit_repo(repo: Repo, names: list[str], *, offline_db: Path | None = None, check_yanked: bool = True,
               now: float | None = None) -> AuditReport:
    settings = load_settings(repo.root)
    moment = time.time() if now is None else now
    source = advisory_source(repo, settings, offline_db, moment)
    index = YankedIndex(settings.pip_index_url, cache_folder(repo), moment) if check_yanked else None
    today = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).date()
    return run_audit(repo, names, settings, source, yanked_index=index, today=today)


def fail_level(explicit: str | None, settings: Settings) -> str:
    return explicit or settings.audit.fail_on or DEFAULT_FAIL_ON


def failing(report: AuditReport, level: str) -> list[object]:
    return [finding for finding in report.findings if at_or_above(finding, level)]


def refuse_vulnerable(repo: Repo, names: list[str], level: str) -> None:
    """The register gate: stop before anything is created when a lock has findings at or above `level`."""
    report = audit_repo(repo, names)
    bad = [finding for finding in report.findings if at_or_above(finding, level)]
    if bad:
        listing = "\n".join(f"  {f.environment}: {f.package} {f.version} {f.id} ({f.severity or 'no severity'}); "
                            f"fix: {f.fix}" for f in bad)
        raise EnvlockError(f"refusing to register: {len(bad)} audit finding(s) at or above {level}\n{listing}\n"
                           "  fix: upgrade as shown, ignore an advisory with a reason and an expiry in envlock.yaml, "
                           "or pass --allow-vulnerable")


def audit_findings(repo: Repo, names: list[str], level: str) -> list[Finding]:
    """Audit results as gate findings (preflight --audit): errors at or above `level`, else warnings."""
    if not names:
        return []
    report = audit_repo(repo, names)
    return [
        Finding(f.environment, f"audit-{f.kind}", "error" if at_or_above(f, level) else "warning", f.file,
                f"{f.manager} package {f.package} {f.version}: {f.id}"
                f"{' (' + ', '.join(f.aliases) + ')' if f.aliases else ''}, severity {f.severity or 'unknown'}",
                f.fix, f.line)
        for f in report.findings
    ]


def referenced_environments(repo: Repo, values: list[str | None]) -> list[str]:
    """The repository's environments that these job references name."""
    from envlock.refs import parse_reference

    declared = set(repo.environment_names())
    names = set()
    for value in values:
        if value:
            try:
                name = parse_reference(value).name
            except EnvlockError:
                continue
            if name in declared:
                names.add(name)
    return sorted(names)
