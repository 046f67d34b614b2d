"""`envlock gc`: archive (never delete) versions that no current lock and no job in the repository
uses, beyond the newest N."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from envlock.lockfile import read_header
from envlock.registries import Registry, newest_first
from envlock.repo import Repo


@dataclass(frozen=True)
class Candidate:
    """A registered version that no current lock or job uses: what gc would archive."""

    name: str
    version: str
    created_at: str
    lock_sha256: str | None



def find_candidates(repo: Repo, registry: Registry, names: list[str], *, keep: int,
                    older_than_days: float | None, now: datetime | None = None) -> list[Candidate]:
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days) \
        if older_than_days is not None else None
    referenced = _referenced_by_jobs(repo)
    candidates = []
    for name in names:
        header = read_header(repo.environments_dir / name)
        current = header.recorded_lock_sha256 if header else None
        versions = newest_first(registry.list_versions(name))
        for index, version in enumerate(versions):
            if version.archived or index < keep or (current and version.lock_sha256 == current):
                continue
            if (name, version.version) in referenced:
                continue  # a job in this repository still runs on it
            if cutoff is not None and _parse_time(version.created_at) > cutoff:
                continue
            candidates.append(Candidate(name, version.version, version.created_at, version.lock_sha256))
    return candidates


def _referenced_by_jobs(repo: Repo) -> set[tuple[str, str]]:
    from envlock.errors import EnvlockError
    from envlock.jobs import scan_files
    from envlock.refs import parse_reference

    referenced = set()
    for use in scan_files(repo.root, []).uses:
        try:
            ref = parse_reference(use.value or "")
        except EnvlockError:
            continue
        if ref.version and ref.registry is None:
            referenced.add((ref.name, ref.version))
    return referenced


def archive(registry: Registry, candidates: list[Candidate]) -> None:
    for candidate in candidates:
        registry.set_archived(candidate.name, candidate.version, True)


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
