"""`envlock audit`: check every locked package against OSV advisories and the index's yanked releases."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from envlock.advisories import DEFAULT_AUDIT_URL, AdvisorySource, OfflineSource, OsvService
from envlock.audit import AuditReport, at_or_above, run_audit
from envlock.repo import Repo
from envlock.settings import Settings, load_settings
from envlock.yanked import YankedIndex

CACHE_FOLDER = ".envlock"
DEFAULT_FAIL_ON = "low"


def advisory_source(repo: Repo, settings: Settings, offline_db: Path | None, now: float) -> AdvisorySource:
    """--offline-db, else audit_url in envlock.yaml, else the public OSV API; answers cached in .envlock/."""
    if offline_db is not None:
        return OfflineSource(offline_db)
    return OsvService(settings.audit_url or DEFAULT_AUDIT_URL, repo.root / CACHE_FOLDER, now=now)


def audit_repo(repo: Repo, names: list[str], *, offline_db: Path | None = None, check_yanked: bool = True,
               now: float | None = None) -> AuditReport:
    settings = load_settings(repo.root)
    moment = time.time() if now is None else now
    source = advisory_source(repo, settings, offline_db, moment)
    index = YankedIndex(settings.pip_index_url, repo.root / CACHE_FOLDER, moment) if check_yanked else None
    today = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).date()
    return run_audit(repo, names, settings, source, yanked_index=index, today=today)


def fail_level(explicit: str | None, settings: Settings) -> str:
    return explicit or settings.audit.fail_on or DEFAULT_FAIL_ON


def failing(report: AuditReport, level: str) -> list[object]:
    return [finding for finding in report.findings if at_or_above(finding, level)]
