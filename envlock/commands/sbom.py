"""`envlock sbom`: the SBOM of an environment's current lock, or reproduced for a registered version."""

from __future__ import annotations

from envlock.errors import EnvlockError, UsageError
from envlock.lockfile import read_lock
from envlock.refs import parse_reference
from envlock.registries import Registry
from envlock.render import AML_PLATFORM, GIT_TAG, LOCK_TAG, VERSION_TAG
from envlock.repo import Repo
from envlock.sbom import SBOM_TAG, Sbom, build_sbom


def sbom_of_environment(repo: Repo, name: str, platform: str, sbom_format: str) -> Sbom:
    repo.select([name])
    lock = read_lock(name, repo.environments_dir / name)
    if lock is None:
        raise EnvlockError(f"{name} has no lock; run envlock lock {name}")
    return build_sbom(lock, platform, sbom_format)


def sbom_of_version(repo: Repo, registry: Registry, reference: str, platform: str, sbom_format: str) -> Sbom:
    """The lock a registered version was made from (the repo's, or git's at the version's commit),
    turned into the same SBOM and checked against the hash stored at registration."""
    ref = parse_reference(reference)
    if ref.version is None:
        raise UsageError(f"'{reference}': name an exact version, e.g. azureml:{ref.name}:3")
    stored = registry.get_version(ref.name, ref.version)
    if stored is None:
        raise EnvlockError(f"{reference} is not registered in {registry.url}")
    wanted = stored.tags.get(LOCK_TAG)
    lock = read_lock(ref.name, repo.environments_dir / ref.name) if ref.name in repo.environment_names() else None
    if lock is None or lock.lock_sha256 != wanted:
        commit = stored.tags.get(GIT_TAG)
        if not commit:
            raise EnvlockError(f"{reference}: its lock ({(wanted or 'unknown')[:12]}) is not the current lock and "
                               "the version records no git commit to read it from")
        from envlock.lock_history import lock_at_revision

        lock = lock_at_revision(repo, ref.name, commit)
        if lock.lock_sha256 != wanted:
            raise EnvlockError(f"{reference}: the lock at commit {commit[:12]} is not the registered one")
    sbom = build_sbom(lock, platform, sbom_format, tool_version=stored.tags.get(VERSION_TAG) or "unknown")
    recorded = stored.tags.get(SBOM_TAG)
    if recorded and sbom_format == "cyclonedx" and platform == AML_PLATFORM and recorded != sbom.sha256:
        raise EnvlockError(f"{reference}: the reproduced SBOM hashes to {sbom.sha256[:12]}, the registered one to "
                           f"{recorded[:12]}; the version's content cannot be vouched for")
    return sbom
